"""``harvest search`` end to end: a local engine, real downloads into the store, faults, resume, CLI."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import manifests
from harvest import cli
from harvest.fetch import FetchOptions
from harvest.optout import OptoutPolicy
from harvest.registry import COLLECTORS
from harvest.search import SearchCollector, SearchOptions
from harvest.search.resume import PAGES
from manifests import Appender, schema
from manifests.archive import Archive
from tests.fixtures import media
from tests.fixtures.http import FakeWeb, Reply, Request, json_reply
from tests.fixtures.kill import kill_mid_run
from tests.fixtures.search import KEYS, SearchWorld

FETCH = FetchOptions(workers=4, per_host=4, timeout=5, retries=2, backoff=0.001, max_backoff=0.002,
                     allow_private=True)  # the fake engine is on 127.0.0.1: opt in
ENV = {k: v for k, v in KEYS.items() if not k.startswith("OPENVERSE")}


@pytest.fixture
def world() -> Iterator[SearchWorld]:
    with FakeWeb() as web:
        yield SearchWorld(web).serve()


def options(world: SearchWorld, *queries: str, **over) -> SearchOptions:
    base = {"label": "tarzan", "engine_url": world.web.base, "env": ENV, "api_interval": 0,
            "fetch": FETCH, "client": world.ddgs}
    return SearchOptions(queries=queries or ("tarzan fanart",), **{**base, **over})


def collect(world: SearchWorld, manifest: Path, *queries: str, **over) -> dict:
    with Appender(manifest, batch_size=50, interval=0) as sink:
        return SearchCollector(options(world, *queries, **over)).run(sink).to_dict()


def image_hits(world: SearchWorld) -> list[str]:
    return [r.path for r in world.web.log if r.path.startswith("/img/")]


def harvest(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_rows_carry_query_rank_licence_and_creator(world: SearchWorld, tmp_path: Path) -> None:
    fanart = world.add("tarzan fanart", 23) + world.add("tarzan fanart", 2, creator=None,
                                                        width=None, height=None)
    sketch = world.add("tarzan sketch", 4)
    world.share("tarzan sketch", fanart[0])  # the same URL found by two queries: one download
    manifest = tmp_path / "m.csv"
    summary = collect(world, manifest, "tarzan fanart", "tarzan sketch")
    frame = manifests.read(manifest)
    assert summary["ok"] == 29 == len(frame) and summary["source"] == "search:openverse"
    assert manifests.group_columns(frame) == (schema.CREATOR,)  # recorded beside the manifest
    assert summary["skipped"] == {"duplicate_url": 1} and image_hits(world).count(
        f"/img/{fanart[0].id}.jpg") == 1
    assert summary["queries"]["tarzan fanart"] == {"listed": 25, "pages": 2, "rows": 25}
    assert summary["queries"]["tarzan sketch"] == {"listed": 5, "pages": 1, "rows": 4,
                                                   "skipped": {"duplicate_url": 1}}
    row = frame[frame[schema.ORIGIN] == fanart[3].url].iloc[0]
    assert row[schema.QUERY] == "tarzan fanart" and row[schema.RESULT_RANK] == 4
    assert row[schema.ENGINE] == "openverse" and row[schema.SOURCE] == "search:openverse"
    assert row[schema.CREATOR] == fanart[3].creator and row[schema.LICENSE] == "by-sa 4.0"
    assert row[schema.CREATOR_URL] == f"https://www.example-art.org/u/{fanart[3].creator}"
    assert row[schema.LICENSE_URL] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert row[schema.PAGE_URL] == fanart[3].page and row[schema.TITLE] == fanart[3].title
    assert row[schema.PROVIDER] == "flickr" and row[schema.SOURCE_DOMAIN] == "example-art.org"
    assert (row[schema.CLAIMED_WIDTH], row[schema.WIDTH]) == (48, 48) and row[schema.LABEL] == "tarzan"
    assert (manifest.parent / row[schema.PATH]).read_bytes() == media.jpeg(int(fanart[3].id[1:]),
                                                                           (48, 36))
    anonymous = frame[frame[schema.ORIGIN] == fanart[24].url].iloc[0]
    assert anonymous[schema.CREATOR] == "example-art.org"  # the group falls back to the domain
    assert pd_na(anonymous[schema.CREATOR_URL]) and pd_na(anonymous[schema.CLAIMED_WIDTH])
    assert anonymous[schema.RESULT_RANK] == 25
    assert frame[frame[schema.ORIGIN] == sketch[0].url].iloc[0][schema.RESULT_RANK] == 1
    assert SearchCollector.group_columns == (schema.CREATOR,) and summary["group_columns"] == ["creator"]
    (entry,) = manifests.lineage_entries(manifest)
    assert entry["added"] == 29


def pd_na(value: object) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def test_download_failures_are_rows(world: SearchWorld, tmp_path: Path) -> None:
    good = world.add("q", 2)
    (gone,) = world.add("q", 1, reply=Reply(b"no", 404, content_type="text/plain"))
    (html,) = world.add("q", 1, reply=Reply(b"<!DOCTYPE html><html><body>login</body></html>",
                                            content_type="image/jpeg"))
    noai_bytes = media.jpeg(500, (48, 36))
    (noai,) = world.add("q", 1, reply=Reply(noai_bytes, content_type="image/jpeg",
                                            headers={"X-Robots-Tag": "noindex, noimageai"}))
    (copy,) = world.add("q", 1, reply=Reply(media.jpeg(int(good[0].id[1:]), (48, 36)),
                                            content_type="image/jpeg"))  # same bytes, other URL
    flaky_bytes = media.jpeg(501, (48, 36))
    (flaky,) = world.add("q", 1)
    world.web.route(f"/img/{flaky.id}.jpg", [Reply(b"", 503), Reply(flaky_bytes,
                                                                    content_type="image/jpeg")])
    manifest = tmp_path / "m.csv"
    summary = collect(world, manifest, "q")
    frame = manifests.read(manifest).set_index(schema.ORIGIN)
    assert summary["statuses"] == {"opted_out": 1, "http_error": 1, "not_image": 1, "ok": 4}
    assert frame.loc[gone.url, schema.ERROR].startswith("HTTP 404")
    assert "served as image/jpeg" in frame.loc[html.url, schema.ERROR]
    assert "noimageai" in frame.loc[noai.url, schema.ERROR] and pd_na(frame.loc[noai.url, schema.PATH])
    assert summary["already_present"] == 1  # one row per content, whichever URL finished first
    assert (good[0].url in frame.index) + (copy.url in frame.index) == 1
    assert frame.loc[flaky.url, schema.STATUS] == "ok" and world.web.hits(f"/img/{flaky.id}.jpg") == 2
    assert len(list((tmp_path / "images").rglob("*.jpg"))) == 3  # the copy is stored once
    other = tmp_path / "o.csv"
    summary = collect(world, other, "q", optout=OptoutPolicy(ignore=frozenset({"header"})))
    row = manifests.read(other).set_index(schema.ORIGIN).loc[noai.url]
    assert row[schema.STATUS] == "ok" and (tmp_path / row[schema.PATH]).read_bytes() == noai_bytes
    assert row[schema.OPTOUT] == "ignored header: X-Robots-Tag noimageai (response header)"


def test_min_side_by_claim_and_by_measure(world: SearchWorld, tmp_path: Path) -> None:
    (claimed_small,) = world.add("q", 1, size=(40, 30))
    (liar,) = world.add("q", 1, size=(40, 30), width=800, height=600)
    (unknown,) = world.add("q", 1, size=(40, 30), width=None, height=None)
    (big,) = world.add("q", 1, size=(80, 64))
    summary = collect(world, tmp_path / "m.csv", "q", min_side=50)
    frame = manifests.read(tmp_path / "m.csv").set_index(schema.ORIGIN)
    assert summary["statuses"] == {"ok": 1, "too_small": 3} and frame.loc[big.url, schema.STATUS] == "ok"
    assert world.web.hits(f"/img/{claimed_small.id}.jpg") == 0  # not downloaded
    assert "engine says 40x30" in frame.loc[claimed_small.url, schema.ERROR]
    for item in (liar, unknown):
        assert world.web.hits(f"/img/{item.id}.jpg") == 1
        assert frame.loc[item.url, schema.ERROR] == "40x30, under --min-side 50"
        assert frame.loc[item.url, schema.WIDTH] == 40
    assert len(list((tmp_path / "images").rglob("*"))) == 2  # one folder, one file: nothing else stored


def openverse_with_faults(world: SearchWorld, once: dict[str, list[Reply]],
                          always: dict[str, Reply]) -> None:
    """Openverse, except that queries answer ``once`` replies first, or ``always`` one reply."""
    def serve(request: Request) -> Reply:
        q = request.query["q"]
        if once.get(q):
            return once[q].pop(0)
        return always[q] if q in always else world._openverse(request)
    world.web.route("/v1/images/", serve)


def test_api_faults(world: SearchWorld, tmp_path: Path) -> None:
    world.add("limited", 3)
    world.add("fine", 2)
    openverse_with_faults(
        world, {"limited": [json_reply({"detail": "Request was throttled."}, 429, **{"Retry-After": "0"})]},
        {"down": Reply(b"oops", 500), "garbled": Reply(b'{"results": [', content_type="application/json")})
    summary = collect(world, tmp_path / "m.csv", "limited", "down", "garbled", "fine")
    assert summary["ok"] == 5 and len(world.hits("/v1/images/", q="limited")) == 2
    assert len(world.hits("/v1/images/", q="down")) == 3  # retried, then given up
    failed = summary["failed_queries"]
    assert len(failed) == 2 and "'down'" in failed[0] and "HTTP 500" in failed[0]
    assert "'garbled'" in failed[1] and "did not answer JSON" in failed[1]
    # failed queries record no page: the next run asks again
    world.web.log.clear()
    collect(world, tmp_path / "m.csv", "limited", "down", "garbled", "fine")
    assert {r.query["q"] for r in world.hits("/v1/images/")} == {"down", "garbled"}


def test_empty_results(world: SearchWorld, tmp_path: Path) -> None:
    summary = collect(world, tmp_path / "m.csv", "no such thing")
    assert summary["rows"] == 0 and summary["queries"]["no such thing"] == {"listed": 0, "pages": 1}
    world.web.log.clear()
    summary = collect(world, tmp_path / "m.csv", "no such thing")
    assert world.web.log == [] and summary["queries"]["no such thing"]["finished_earlier"]


@pytest.mark.slow
def test_rerun_lists_no_finished_page_and_downloads_no_stored_url(world: SearchWorld,
                                                                  tmp_path: Path) -> None:
    world.add("q", 70)
    manifest = tmp_path / "m.csv"
    first = collect(world, manifest, "q", limit=30)  # pages 1 and half of 2
    assert first["ok"] == 30 and len(world.hits("/v1/images/")) == 2
    world.web.log.clear()
    again = collect(world, manifest, "q", limit=30)
    assert world.web.log == [] and again["rows"] == 0  # nothing listed, nothing downloaded
    more = collect(world, manifest, "q", limit=65)
    pages = [r.query["page"] for r in world.hits("/v1/images/")]
    assert pages == ["2", "3", "4"]  # the rest of page 2, then on
    assert len(image_hits(world)) == 35 and more["added"] == 35
    assert more["queries"]["q"]["resumed_at_rank"] == 31
    frame = manifests.read(manifest)
    assert sorted(frame[schema.RESULT_RANK]) == list(range(1, 66))
    # another engine finding the same URLs downloads none of them again
    world.web.log.clear()
    other = collect(world, manifest, "q", engine="wikimedia", limit=70, contact="tests@example.org")
    assert sorted(image_hits(world)) == [f"/img/{i.id}.jpg" for i in world.catalogue["q"][65:]]
    assert other["skipped"]["url_recorded"] == 65 and other["added"] == 5


def test_transient_failures_are_retried_on_rerun(world: SearchWorld, tmp_path: Path) -> None:
    (item,) = world.add("q", 1)
    good = world.web.routes[f"/img/{item.id}.jpg"]
    world.web.route(f"/img/{item.id}.jpg", Reply(b"", 503))
    assert collect(world, tmp_path / "m.csv", "q")["statuses"] == {"server_error": 1}
    world.web.route(f"/img/{item.id}.jpg", good)
    world.web.log.clear()
    again = collect(world, tmp_path / "m.csv", "q")  # the page is finished: the row is retried as is
    assert again["statuses"] == {"ok": 1} and again["retried"] == 1 and world.hits("/v1/images/") == []
    row = manifests.read(tmp_path / "m.csv").iloc[0]
    assert row[schema.STATUS] == "ok" and row[schema.QUERY] == "q" and row[schema.RESULT_RANK] == 1
    assert row[schema.CREATOR] == item.creator and again["replaced_failures"] == 1


KILLED_RUN = """
import sys
from harvest.fetch import FetchOptions
from harvest.optout import OptoutPolicy
from harvest.search import SearchCollector, SearchOptions
from manifests import Appender
base, manifest = sys.argv[1], sys.argv[2]
opts = SearchOptions(("q",), label="tarzan", engine_url=base, env={}, api_interval=0, limit=200,
                     fetch=FetchOptions(workers=2, per_host=2, allow_private=True))
with Appender(manifest, batch_size=10, interval=0) as sink:
    SearchCollector(opts).run(sink)
"""


@pytest.mark.slow
def test_killed_run_resumes(world: SearchWorld, tmp_path: Path) -> None:
    items = world.add("q", 100)
    for item in items:
        route = world.web.routes[f"/img/{item.id}.jpg"]
        route.delay = 0.04
    manifest = tmp_path / "m.csv"
    kill_mid_run([sys.executable, "-c", KILLED_RUN, world.web.base, str(manifest)],
                 lambda: Archive(manifest).has(PAGES) and manifest.exists()
                 and len(manifests.read(manifest)) >= 30)
    partial = manifests.read(manifest)
    assert 20 <= len(partial) < 100, "the kill should land mid-run, after the first page"
    (last,) = Archive(manifest).entries(PAGES).values()  # the last finished page of the query
    assert last["taken"] == last["size"] == 20
    world.web.log.clear()
    summary = collect(world, manifest, "q", limit=200)
    asked = [int(r.query["page"]) for r in world.hits("/v1/images/")]
    assert asked and min(asked) == last["cursor"] + 1  # no finished page listed again
    assert not set(image_hits(world)) & {f"/img/{i.id}.jpg" for i in items
                                         if i.url in set(partial[schema.ORIGIN])}
    frame = manifests.read(manifest)
    assert len(frame) == 100 and (frame[schema.STATUS] == "ok").all()
    assert summary["added"] == 100 - len(partial)


def test_registered_with_its_command(world: SearchWorld) -> None:
    assert COLLECTORS["search"] is SearchCollector
    assert SearchCollector.example.startswith("harvest search ")
    SearchCollector(options(world, engine="flickr"))  # constructing checks options, makes no request
    assert world.web.log == []


def test_cli_json_and_errors(world: SearchWorld, tmp_path: Path, capsys,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    world.add("tarzan fanart", 3)
    manifest = tmp_path / "m.csv"
    base = ["search", "--label", "tarzan", "-m", str(manifest), "--engine-url", world.web.base,
            "--api-interval", "0", "--allow-private"]
    code, out, _ = harvest([*base[:1], "tarzan fanart", *base[1:], "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["ok"] == 3 and data["by_label"] == {"tarzan": {"ok": 3}}
    assert data["manifest"] == str(manifest) and data["engine"] == "openverse"
    code, _, err = harvest(["search", "x", "--label", "t", "-m", str(tmp_path / "n.csv"),
                            "--after", "2020-01-01"], capsys)
    assert code == 2 and "engines that can: flickr, serpapi" in err and "Traceback" not in err
    code, _, err = harvest(["search", "x", "--label", "t", "--engine", "ddgs", "--license", "by",
                            "-m", str(tmp_path / "n.csv")], capsys)
    assert code == 2 and "engines that can: openverse, flickr" in err
    monkeypatch.delenv("FLICKR_API_KEY", raising=False)
    code, _, err = harvest(["search", "x", "--label", "t", "--engine", "flickr",
                            "-m", str(tmp_path / "n.csv"), "--engine-url", world.web.base], capsys)
    assert code == 2 and "error: the flickr engine needs a key: set FLICKR_API_KEY" in err
    code, _, err = harvest(["search", "x", "--label", "t", "--after", "May 2020",
                            "--engine", "flickr", "-m", str(tmp_path / "n.csv")], capsys)
    assert code == 2 and "YYYY-MM-DD" in err
    assert not (tmp_path / "n.csv").exists() and world.web.hits("/services/rest/") == 0

    from ddgs.exceptions import TimeoutException

    def broken(query, **kwargs):
        raise TimeoutException("https://duckduckgo.com/ timed out\nsecond line")

    monkeypatch.setattr("harvest.search.ddgs._default_search", broken)
    code, _, err = harvest(["search", "kirby", "--label", "k", "--engine", "ddgs",
                            "-m", str(tmp_path / "d.csv")], capsys)
    assert code == 6 and "ddgs failed for 'kirby'" in err and "Traceback" not in err
    assert "timed out second line" in err  # the exception on one line


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound and never listening: connections to it are refused."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        yield closed.getsockname()[1]


@pytest.mark.parametrize("engine, key", [("flickr", "FLICKR_API_KEY"), ("serpapi", "SERPAPI_KEY")])
def test_an_api_key_never_reaches_the_error_line_or_the_json(engine: str, key: str, closed_port: int,
                                                             tmp_path: Path, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The API is unreachable: its URL, key included, is in requests' error (issue 25, item 13)."""
    secret = f"s3cr3t-{engine}-key"
    monkeypatch.setenv(key, secret)
    argv = ["search", "q", "--label", "t", "--engine", engine, "-m", str(tmp_path / "m.csv"),
            "--engine-url", f"http://127.0.0.1:{closed_port}", "--api-interval", "0", "--allow-private",
            "--retries", "0"]
    code, _, err = harvest(argv, capsys)
    assert code == 6 and "api_key=REDACTED" in err and secret not in err
    code, out, err = harvest([*argv, "--json"], capsys)
    (failed,) = json.loads(out)["failed_queries"]
    assert code == 6 and "api_key=REDACTED" in failed and secret not in out + err


def test_a_secret_in_a_url_never_reaches_rows_or_the_lineage(world: SearchWorld, closed_port: int,
                                                            tmp_path: Path, capsys) -> None:
    world.add("q", 2)
    manifest = tmp_path / "m.csv"
    signed = f"--mirror={world.web.base}/img/=http://127.0.0.1:{closed_port}/img?token=s3cr3t-sig&u="
    code, _, err = harvest(["search", "q", "--label", "t", "-m", str(manifest), "--engine-url",
                            world.web.base, "--api-interval", "0", "--allow-private", "--retries", "0",
                            signed], capsys)
    frame = manifests.read(manifest)
    assert code == 0 and list(frame[schema.STATUS]) == ["network", "network"]
    assert all("token=REDACTED" in error for error in frame[schema.ERROR])
    stored = manifest.read_text() + manifests.lineage.log_path(manifest).read_text()
    assert "s3cr3t" not in stored + err and "token=REDACTED" in stored


def test_hostile_api_answers_fail_their_query_in_one_line_and_the_others_go_on(
        world: SearchWorld, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deep JSON, objects where lists belong, 1e400 and "nan" numbers, Rich markup and terminal
    escapes in server text: one plain line each, no traceback, the good query stored (issue 25,
    item 14)."""
    monkeypatch.setenv("FLICKR_API_KEY", KEYS["FLICKR_API_KEY"])
    (good,) = world.add("fine", 1)
    (odd,) = world.add("odd numbers", 1)
    hostile = {
        "deep": Reply(b'{"stat": "ok", "photos": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                      content_type="application/json"),
        "not objects": json_reply({"stat": "ok", "photos": [1, "x", None]}),
        "markup": json_reply({"stat": "fail", "code": "[/x]", "message":
                              "[link=http://evil.example]click[/link] \x1b]0;pwned\x07\x1b[31mred\x9b"}),
        "odd numbers": Reply(json.dumps({"stat": "ok", "photos": {"page": 1, "pages": "nan", "photo": [{
            "id": "1", "owner": "o", "url_o": odd.url, "title": {"a": 1}, "license": [4],
            "width_o": 12345}]}}).replace("12345", "1e400").encode(), content_type="application/json"),
    }

    def serve(request: Request) -> Reply:
        return hostile.get(request.query["text"]) or world._flickr(request)

    world.web.route("/services/rest/", serve)
    manifest = tmp_path / "m.csv"
    code, _, err = harvest(["search", "deep", "not objects", "markup", "odd numbers", "fine", "--label",
                            "t", "--engine", "flickr", "-m", str(manifest), "--engine-url", world.web.base,
                            "--api-interval", "0", "--allow-private"], capsys)
    assert code == 6 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3 and all(line.startswith("error: flickr '") for line in errors)
    assert "nested too deeply" in errors[0] and "shape it cannot read" in errors[1]
    assert "error [/x]: [link=http://evil.example]click[/link] \\x1b]0;pwned\\x07\\x1b[31mred\\x9b" \
        in errors[2]  # shown as it is: not markup, no escape sequence reaching the terminal
    assert "\x1b" not in err and "\x9b" not in err
    frame = manifests.read(manifest).set_index(schema.ORIGIN)
    assert frame.loc[good.url, schema.STATUS] == "ok" and frame.loc[odd.url, schema.STATUS] == "ok"
    assert pd_na(frame.loc[odd.url, schema.CLAIMED_WIDTH]) and pd_na(frame.loc[odd.url, schema.TITLE])
