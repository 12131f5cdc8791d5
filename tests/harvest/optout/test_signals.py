"""The opt-out readers one by one: X-Robots-Tag, tdm-reservation, tdmrep.json rules, XMP DataMining, the
host cache and its 24-hour life, a 5xx robots.txt, the fetcher's truncation and screening, and
``harvest reddit`` refusing what its media hosts opt out of."""

from __future__ import annotations

from pathlib import Path

import pytest

import manifests
from harvest.fetch import Fetcher, FetchOptions, Refusal
from harvest.optout import HeaderCheck, HostRules, OptoutPolicy
from harvest.optout.signals import (
    blocking_directive,
    header_findings,
    tdmrep_match,
    tdmrep_rules,
    xmp_finding,
)
from harvest.reddit.sources import SourceOptions
from harvest.registry import RedditCollector, RedditOptions
from manifests import Appender, UsageError, schema
from manifests.archive import Archive
from tests.fixtures import media
from tests.fixtures.http import FakeWeb, Reply, json_reply
from tests.harvest.conftest import ENV, RedditWorld, post
from tests.harvest.optout.test_optout import PLUS, xmp_jpeg, xmp_png

FETCH = FetchOptions(workers=2, per_host=2, timeout=5, retries=1, backoff=0.001, max_backoff=0.002,
                     allow_private=True)


@pytest.mark.parametrize(("header", "blocked"), [
    ("noml", "noml"), ("noindex, noimageai", "noimageai"), ("gleanset: noml", "noml"),
    ("otherbot: noml, noindex", None), ("noindex", None), (None, None)])
def test_x_robots_tag_reads_noml_too(header: str | None, blocked: str | None) -> None:
    assert blocking_directive(header) == blocked


def test_tdm_reservation_header_values() -> None:
    assert [f.text() for f in header_findings(None, " 1 ")] == ["tdmrep: tdm-reservation 1 (response header)"]
    assert header_findings(None, "0") == [] and header_findings(None, "2") == []  # 2: a protocol error


def test_tdmrep_rules_first_match_wins_with_robots_patterns() -> None:
    rules = tdmrep_rules([{"location": "/a/*.jpg$", "tdm-reservation": 1},
                          {"location": "/a/", "tdm-reservation": 0},
                          {"location": "/b", "tdm-reservation": "1"},
                          {"location": "/c", "tdm-reservation": 3}, {"tdm-reservation": 1}, "junk"])
    assert [(r.location, r.reservation) for r in rules] == [("/a/*.jpg$", 1), ("/a/", 0), ("/b", 1)]
    assert tdmrep_match(rules, "/a/x/y.jpg").reservation == 1
    assert tdmrep_match(rules, "/a/y.jpg.png").reservation == 0  # "$": the end of the path
    assert tdmrep_match(rules, "/bee.png").reservation == 1 and tdmrep_match(rules, "/c/1.png") is None
    assert tdmrep_rules({"location": "/"}) == ()


@pytest.mark.parametrize(("value", "blocked"), [
    (PLUS + "DMI-PROHIBITED", True), (PLUS + "DMI-PROHIBITED-AIMLTRAINING", True),
    (PLUS + "DMI-PROHIBITED-SEECONSTRAINT", True), ("Prohibited for Generative AI/ML training", True),
    (PLUS + "DMI-ALLOWED", False), (PLUS + "DMI-UNSPECIFIED", False)])
def test_xmp_data_mining_values(value: str, blocked: bool) -> None:
    for data in (xmp_jpeg(value, 1), xmp_png(value, 1)):
        assert (xmp_finding(data) is not None) is blocked
    assert xmp_finding(media.jpeg(1)) is None and xmp_finding(b"<html>not an image</html>") is None


def test_policy_checks_its_signals() -> None:
    with pytest.raises(UsageError, match="--ignore-optout robot: choose from robots, tdmrep"):
        OptoutPolicy(ignore=frozenset({"robot"}))


def test_truncate_keeps_the_first_bytes_and_screening_skips_api_calls() -> None:
    with FakeWeb() as web:
        big = web.route("/big.txt", Reply(b"x" * 3_000_000))
        api = web.route("/api", json_reply({"ok": 1}, **{"X-Robots-Tag": "noai"}))
        with Fetcher(FetchOptions(allow_private=True, max_bytes=1000, truncate=True)) as fetcher:
            result = fetcher.get(big)
        assert result.ok and result.data == b"x" * 1000
        with Fetcher(FetchOptions(allow_private=True, reject=HeaderCheck(OptoutPolicy()))) as fetcher:
            assert fetcher.get_json(api) == {"ok": 1}  # an API answer is not a download
            refused = fetcher.get(api)
        assert refused.status == schema.OPTED_OUT
        assert refused.note == "header: X-Robots-Tag noai (response header)"
        assert isinstance(HeaderCheck(OptoutPolicy())("u", {"tdm-reservation": "1"}), Refusal)


def test_host_cache_lives_a_day_and_a_5xx_robots_txt_disallows(tmp_path: Path) -> None:
    with FakeWeb() as web:
        web.route("/robots.txt", Reply(b"User-agent: *\nDisallow: /x/\n", content_type="text/plain"))
        archive, now = Archive(tmp_path / "m.csv"), [1_000_000.0]
        for moved in (0, 3600, 25 * 3600):
            now[0] += moved
            with HostRules(FETCH, OptoutPolicy(), archive, clock=lambda: now[0]) as rules:
                assert rules.check(web.url("/x/1.jpg")).signal == "robots"
                assert rules.check(web.url("/y/1.jpg")) is None
        assert web.hits("/robots.txt") == 2  # the second run read the archive; the third was a day late
        web.route("/robots.txt", [Reply(b"", 503)])
        with HostRules(FETCH, OptoutPolicy(), None) as rules:
            finding = rules.check(web.url("/y/1.jpg"))
        assert finding.signal == "robots" and finding.status == schema.SERVER_ERROR
        assert "HTTP 503" in finding.what and "complete disallow" in finding.what


def test_reddit_honours_its_media_hosts(web: FakeWeb, tmp_path: Path) -> None:
    world = RedditWorld(web)
    posts = [post("rob01"), post("xmp01"), post("hdr01"), post("fine1")]
    world.listing("Doom", "hot", posts)
    world.images(posts)
    web.route("/i.redd.it/robots.txt", Reply(b"User-agent: *\nDisallow: /rob01\n", content_type="text/plain"))
    web.route("/i.redd.it/xmp01.jpg", Reply(xmp_jpeg(PLUS + "DMI-PROHIBITED", 2), content_type="image/jpeg"))
    web.route("/i.redd.it/hdr01.jpg", Reply(media.jpeg(3), headers={"tdm-reservation": "1"},
                                            content_type="image/jpeg"))
    manifest = tmp_path / "m.csv"
    statuses = []
    for ignore in (frozenset(), frozenset({"robots"})):  # the second run takes what robots.txt refused
        source = SourceOptions(subreddits=("Doom",), oauth_url=web.base, reddit_url=web.base)
        options = RedditOptions(source=source, fetch=world.fetch, env=ENV,
                                optout=OptoutPolicy(ignore=ignore))
        with Appender(manifest, batch_size=5, interval=0) as sink:
            RedditCollector(options).run(sink)
        frame = manifests.read(manifest).set_index(schema.POST_ID)
        statuses.append(frame[schema.STATUS].to_dict())
        if not ignore:
            assert [frame.loc[p, schema.OPTOUT].split(":")[0] for p in ("rob01", "xmp01", "hdr01")] == [
                "robots", "xmp", "tdmrep"]
            assert web.hits("/i.redd.it/rob01.jpg") == 0 and web.hits("/i.redd.it/robots.txt") == 1
    refused = {"rob01": "opted_out", "xmp01": "opted_out", "hdr01": "opted_out", "fine1": "ok"}
    assert statuses == [refused, {**refused, "rob01": "ok"}]
    assert frame.loc["rob01", schema.OPTOUT].startswith("ignored robots: Disallow for gleanset")
    assert web.hits("/i.redd.it/rob01.jpg") == 1 and web.hits("/i.redd.it/xmp01.jpg") == 1
    assert manifests.lineage.entries(manifest)[-1]["details"]["optout"]["ignored"] == ["robots"]
