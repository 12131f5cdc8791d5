"""Opt-outs end to end: one local server per signal (robots.txt, tdmrep.json, tdm-reservation header,
X-Robots-Tag, XMP DataMining), a host with none, a robots.txt that times out and one of 5 MB; each
signal refuses its image through ``harvest search`` and ``--ignore-optout`` lets exactly it through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import PngImagePlugin

import manifests
from harvest import cli
from harvest.fetch import FetchOptions
from harvest.optout import OptoutPolicy
from harvest.search import SearchCollector, SearchOptions
from manifests import Appender, lineage, schema
from tests.fixtures import media
from tests.fixtures.http import FakeWeb, Reply
from tests.fixtures.search import SearchWorld

FETCH = FetchOptions(workers=4, per_host=4, timeout=5, retries=1, backoff=0.001, max_backoff=0.002,
                     allow_private=True)  # every server is on 127.0.0.1: opt in
PLUS = "http://ns.useplus.org/ldf/vocab/"
SIGNALS = ("robots", "tdmrep", "header", "xmp")


def xmp_packet(value: str) -> str:
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
            'syntax-ns#"><rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
            f'<plus:DataMining>{value}</plus:DataMining></rdf:Description></rdf:RDF></x:xmpmeta>')


def xmp_jpeg(value: str, seed: int) -> bytes:
    """A generated JPEG whose XMP carries ``plus:DataMining`` = ``value`` (written by Pillow)."""
    return media.encode(media.photo(40, 30, seed), "JPEG", xmp=xmp_packet(value).encode())


def xmp_png(value: str, seed: int) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_packet(value))
    return media.encode(media.photo(40, 30, seed), "PNG", pnginfo=info)


def jpeg_reply(seed: int, **headers: str) -> Reply:
    return Reply(media.jpeg(seed, (40, 30)), headers=headers, content_type="image/jpeg")


@dataclass
class Hosts:
    """The engine, and one image host per signal; ``urls[name]`` is what each host's image is."""

    world: SearchWorld
    servers: dict[str, FakeWeb]
    urls: dict[str, str]


ROBOTS = "User-agent: *\nDisallow: /cgi/\n\nUser-agent: gleanset\nDisallow: /private/\n"
TDMREP = [{"location": "/reserved/*.jpg", "tdm-reservation": 1, "tdm-policy": "https://x.org/p.json"},
          {"location": "/", "tdm-reservation": 0}]
HUGE = ("User-agent: *\nDisallow: /early/\n" + "# padding\n" * 500_000 + "Disallow: /late/\n").encode()


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    """Hosts and their images: ``NAME`` is refused by one signal, ``NAME_ok`` on the same host is not."""
    names = ("none", "robots", "tdmrep", "tdmheader", "header", "xmp", "slow", "huge")
    servers = {n: FakeWeb() for n in names}
    s = servers
    s["robots"].route("/robots.txt", Reply(ROBOTS.encode(), content_type="text/plain"))
    s["tdmrep"].route("/.well-known/tdmrep.json", Reply(json.dumps(TDMREP).encode(),
                                                        content_type="application/json"))
    s["slow"].route("/robots.txt", Reply(b"User-agent: *\nAllow: /\n", delay=3.0))
    s["huge"].route("/robots.txt", Reply(HUGE, content_type="text/plain"))
    routes = {  # name: (host, path, reply)
        "none": ("none", "/a/1.jpg", jpeg_reply(1)),
        "robots": ("robots", "/private/2.jpg", jpeg_reply(2)),
        "robots_ok": ("robots", "/cgi/3.jpg", jpeg_reply(3)),  # only * disallows /cgi/: not us
        "tdmrep": ("tdmrep", "/reserved/4.jpg", jpeg_reply(4)),
        "tdmrep_ok": ("tdmrep", "/reserved/5.png", Reply(media.png(5, (40, 30)), content_type="image/png")),
        "tdmheader": ("tdmheader", "/6.jpg", jpeg_reply(6, **{"tdm-reservation": "1"})),
        "tdmheader_ok": ("tdmheader", "/7.jpg", jpeg_reply(7, **{"tdm-reservation": "0"})),
        "header": ("header", "/8.jpg", jpeg_reply(8, **{"X-Robots-Tag": "noindex, noml"})),
        "header_ok": ("header", "/9.jpg", jpeg_reply(9, **{"X-Robots-Tag": "otherbot: noai"})),
        "xmp": ("xmp", "/10.jpg", Reply(xmp_jpeg(PLUS + "DMI-PROHIBITED-AIMLTRAINING", 10),
                                        content_type="image/jpeg")),
        "xmp_png": ("xmp", "/11.png", Reply(xmp_png(PLUS + "DMI-PROHIBITED-GENAIMLTRAINING", 11),
                                           content_type="image/png")),
        "xmp_ok": ("xmp", "/12.jpg", Reply(xmp_jpeg(PLUS + "DMI-ALLOWED", 12), content_type="image/jpeg")),
        "slow": ("slow", "/13.jpg", jpeg_reply(13)),
        "huge": ("huge", "/early/14.jpg", jpeg_reply(14)),
        "huge_ok": ("huge", "/late/15.jpg", jpeg_reply(15)),  # its Disallow is past the 512 KiB read
    }
    urls = {name: s[host].route(path, reply) for name, (host, path, reply) in routes.items()}
    web = FakeWeb()
    world = SearchWorld(web).serve()
    for name, url in urls.items():
        world.add("slow" if name == "slow" else "signals", 1, url=url, page=f"https://x.org/{name}")
    try:
        yield Hosts(world, servers, urls)
    finally:
        for server in (*servers.values(), web):
            server.close()


Span = dict[str, tuple[int, int]]  # host name: (first, end) of its log's part to count


def requested(hosts: Hosts, name: str, span: Span | None = None) -> int:
    """How often the image ``name`` was requested from its host (in ``span`` of the logs, or ever)."""
    url = hosts.urls[name]
    host, server = next((h, s) for h, s in hosts.servers.items() if url.startswith(s.base))
    return hits(server, url[len(server.base):], *(span or {}).get(host, (0, None)))


def hits(server: FakeWeb, path: str, first: int = 0, end: int | None = None) -> int:
    """Requests for ``path`` among the server's logged requests ``first`` to ``end``."""
    return sum(1 for r in server.log[first:end] if r.path == path)


def collect(hosts: Hosts, manifest: Path, query: str, **over) -> dict:
    options = SearchOptions(queries=(query,), label="art", engine="openverse", fetch=FETCH,
                            engine_url=hosts.world.web.base, env={}, api_interval=0, **over)
    with Appender(manifest, batch_size=50, interval=0) as sink:
        return SearchCollector(options).run(sink).to_dict()


def by_name(hosts: Hosts, manifest: Path) -> dict[str, dict]:
    frame = manifests.read(manifest).set_index(schema.ORIGIN)
    return {name: frame.loc[url].to_dict() for name, url in hosts.urls.items() if url in frame.index}


@dataclass
class Honoured:
    """One run that honours every signal: its manifest, summary, and the part of each host's log it
    made (tests of this module run in any order against the same hosts)."""

    manifest: Path
    summary: dict
    span: Span


@pytest.fixture(scope="module")
def honoured(hosts: Hosts, tmp_path_factory: pytest.TempPathFactory) -> Honoured:
    manifest = tmp_path_factory.mktemp("honoured") / "m.csv"
    before = {name: len(server.log) for name, server in hosts.servers.items()}
    summary = collect(hosts, manifest, "signals")
    return Honoured(manifest, summary, {n: (before[n], len(s.log)) for n, s in hosts.servers.items()})


def test_each_signal_refuses_its_image_and_only_it(hosts: Hosts, honoured: Honoured) -> None:
    manifest, summary, span = honoured.manifest, honoured.summary, honoured.span
    rows = by_name(hosts, manifest)
    refused = {n: r for n, r in rows.items() if r[schema.STATUS] == schema.OPTED_OUT}
    assert sorted(refused) == ["header", "huge", "robots", "tdmheader", "tdmrep", "xmp", "xmp_png"]
    assert summary["statuses"] == {"ok": 7, "opted_out": 7}  # 14 results, 14 rows
    signal = {n: r[schema.OPTOUT].split(":")[0] for n, r in refused.items()}
    assert signal == {"robots": "robots", "huge": "robots", "tdmrep": "tdmrep", "tdmheader": "tdmrep",
                      "header": "header", "xmp": "xmp", "xmp_png": "xmp"}
    robots_url = hosts.servers["robots"].url("/robots.txt")
    assert refused["robots"][schema.OPTOUT] == (f"robots: Disallow for gleanset matches /private/2.jpg "
                                                f"({robots_url})")
    assert "/reserved/*.jpg" in refused["tdmrep"][schema.OPTOUT]
    assert refused["tdmrep"][schema.OPTOUT].endswith("/.well-known/tdmrep.json)")
    assert refused["header"][schema.OPTOUT] == "header: X-Robots-Tag noml (response header)"
    assert "DMI-PROHIBITED-AIMLTRAINING" in refused["xmp"][schema.OPTOUT]
    assert all("--ignore-optout" in r[schema.ERROR] for r in refused.values())
    # robots.txt and tdmrep.json refuse before any request; the headers and the XMP after it
    assert [requested(hosts, n, span) for n in ("robots", "tdmrep", "huge")] == [0, 0, 0]
    assert all(requested(hosts, n, span) == 1 for n in ("tdmheader", "header", "xmp"))
    assert all(pd_na(r[schema.PATH]) for r in refused.values())
    stored = list((manifest.parent / "images").rglob("*.*"))
    assert len(stored) == 7  # the refused XMP images were downloaded but not stored
    for name in ("none", "robots_ok", "tdmrep_ok", "tdmheader_ok", "header_ok", "xmp_ok", "huge_ok"):
        assert rows[name][schema.STATUS] == schema.OK and pd_na(rows[name][schema.OPTOUT]), name


def pd_na(value: object) -> bool:
    return value is None or value != value or str(value) in ("<NA>", "nan")


def test_host_files_are_read_once_and_cached_in_the_archive(hosts: Hosts, honoured: Honoured) -> None:
    manifest, span = honoured.manifest, honoured.span
    robots = hosts.servers["robots"]
    assert hits(robots, "/robots.txt", *span["robots"]) == 1
    assert hits(robots, "/.well-known/tdmrep.json", *span["robots"]) == 1
    assert hits(hosts.servers["tdmrep"], "/.well-known/tdmrep.json", *span["tdmrep"]) == 1
    entries = manifests.archive.Archive(manifest).entries("optout-hosts")
    assert entries[f"{robots.base}\trobots"]["text"] == ROBOTS
    huge = entries[f"{hosts.servers['huge'].base}\trobots"]["text"]
    assert len(huge.encode()) == 512 * 1024 and huge.startswith("User-agent: *\nDisallow: /early/")
    assert lineage.entries(manifest)[-1]["details"]["optout"]["ignored"] == []


def test_a_robots_txt_that_times_out_disallows_its_host_until_a_later_run(hosts: Hosts,
                                                                          tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    summary = collect(hosts, manifest, "slow", optout=OptoutPolicy(deadline=0.5))
    row = by_name(hosts, manifest)["slow"]
    # RFC 9309 2.3.1.4: unreachable means complete disallow; the row is transient, so retried
    assert summary["statuses"] == {"network": 1} and requested(hosts, "slow") == 0
    assert row[schema.OPTOUT].startswith("robots: robots.txt unreachable (")
    assert "complete disallow" in row[schema.OPTOUT] and "deadline" in row[schema.OPTOUT]
    slow = hosts.servers["slow"].base
    assert f"{slow}\trobots" not in manifests.archive.Archive(manifest).entries("optout-hosts")


@pytest.mark.parametrize("signal", SIGNALS)
def test_ignore_optout_lets_exactly_its_signal_through(hosts: Hosts, tmp_path: Path, signal: str,
                                                       honoured: Honoured) -> None:
    manifest = tmp_path / "m.csv"
    collect(hosts, manifest, "signals", optout=OptoutPolicy(ignore=frozenset({signal})))
    before = by_name(hosts, honoured.manifest)
    for name, row in by_name(hosts, manifest).items():
        was = before[name]
        if was[schema.STATUS] == schema.OPTED_OUT and was[schema.OPTOUT].startswith(signal + ":"):
            assert row[schema.STATUS] == schema.OK, name
            assert row[schema.OPTOUT] == "ignored " + was[schema.OPTOUT], name
        else:
            assert row[schema.STATUS] == was[schema.STATUS], name


def test_cli_ignore_optout_after_the_fact_takes_the_refused_images(
        hosts: Hosts, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.csv"
    argv = ["search", "signals", "--label", "art", "-m", str(manifest), "--engine-url",
            hosts.world.web.base, "--api-interval", "0", "--allow-private", "--retries", "0", "--json"]
    ignore = ["--ignore-optout", "robots,tdmrep", "--ignore-optout", "header", "--ignore-optout", "xmp"]
    for extra in ([], ignore):  # the second run downloads again what the first one refused
        with pytest.raises(SystemExit) as done:
            cli.main(argv + extra)
        out, err = capsys.readouterr()
        assert done.value.code == 0, err
    assert json.loads(out)["replaced_failures"] == 7
    frame = manifests.read(manifest)
    assert (frame[schema.STATUS] == schema.OK).all() and len(frame) == 14
    assert frame[schema.OPTOUT].dropna().str.startswith("ignored ").sum() == 7
    entry = lineage.entries(manifest)[-1]
    assert entry["details"]["optout"]["ignored"] == ["header", "robots", "tdmrep", "xmp"]
    assert "--ignore-optout robots,tdmrep" in entry["command"]
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, "--ignore-optout", "nofollow"])
    assert done.value.code == 2 and "--ignore-optout nofollow: choose from robots, tdmrep, header, xmp" \
        in " ".join(capsys.readouterr().err.split())
