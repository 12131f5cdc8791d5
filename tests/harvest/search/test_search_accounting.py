"""Every result accounted for, per engine and query: results seen = rows + counted skips; size ladders;
Commons' split batches and object-keyed pages; engine notices; Wikimedia's contact and maxlag.

All on generated answers from a local server (``tests.fixtures.search``); the real recorded answers are
in ``test_search_realapi.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import manifests
from harvest.fetch import Fetcher
from harvest.search import ENGINES, EngineConfig, Filters, SearchCollector
from harvest.search.collector import NO_USABLE_URL
from manifests import Appender, UsageError, lineage, schema
from tests.fixtures.http import FakeWeb, Reply, Request, json_reply
from tests.fixtures.search import SearchWorld
from tests.harvest.search.test_search import ENV, FETCH, options

CONTACT = "tests@example.org"


@pytest.fixture
def world() -> Iterator[SearchWorld]:
    with FakeWeb() as web:
        yield SearchWorld(web).serve()


def run(world: SearchWorld, manifest: Path, *queries: str, **over) -> dict:
    with Appender(manifest, batch_size=50, interval=0) as sink:
        return SearchCollector(options(world, *queries, **{"contact": CONTACT, **over})).run(sink).to_dict()


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_results_seen_equal_rows_plus_counted_skips(world: SearchWorld, tmp_path: Path, name: str) -> None:
    """A result with nothing usable is a counted, listed skip; one with only a smaller size falls back
    down the engine's ladder; the summary's numbers add up for each query."""
    full = world.add("castle", 4)
    small = world.add("castle", 2, small_only=True)  # Flickr's url_m only, Brave's thumbnail, ...
    world.add("castle", 2, url=None)  # nothing at any size
    twice = name != "wikimedia"  # Commons lists a page once a batch (the fake's would merge by id)
    if twice:
        world.share("castle", full[0])  # listed twice: one download, one duplicate_url skip
    world.add("moat", 3)
    summary = run(world, tmp_path / "m.csv", "castle", "moat", engine=name)
    frame = manifests.read(tmp_path / "m.csv")
    for query, report in summary["queries"].items():
        skips = sum(report.get("skipped", {}).values())
        assert report["listed"] == report.get("rows", 0) + skips, (query, report)
    castle = summary["queries"]["castle"]
    assert castle["listed"] == 8 + twice and castle["rows"] == 6
    assert castle["skipped"] == {NO_USABLE_URL: 2, **({"duplicate_url": 1} if twice else {})}
    moat = summary["queries"]["moat"]
    assert (moat["listed"], moat["rows"], moat.get("skipped")) == (3, 3, None)
    assert set(frame.loc[frame[schema.STATUS] == schema.OK, schema.ORIGIN]) == {
        i.url for i in full + small + world.catalogue["moat"]}
    named = summary["skipped_examples"][NO_USABLE_URL]
    assert [n.split(":")[0] for n in named] == ["castle #7", "castle #8"] and name in named[0]
    lines = SearchCollector(options(world, engine=name)).new_summary()
    lines.queries = summary["queries"]
    assert ("'castle': 9 results seen = 6 rows + 3 skipped (1 duplicate_url, 2 no_usable_url)" if twice
            else "'castle': 8 results seen = 6 rows + 2 skipped (2 no_usable_url)") in lines.lines()


def test_flickr_asks_for_its_whole_size_ladder_and_takes_the_largest(world: SearchWorld) -> None:
    world.add("kiki", 1, small_only=True)
    eng = ENGINES["flickr"](Fetcher(FETCH), EngineConfig(base_url=world.web.base, env=ENV, api_interval=0))
    (page,) = eng.walk("kiki", Filters(), 10)
    (request,) = world.hits("/services/rest/")
    assert request.query["extras"].split(",")[:5] == ["url_o", "url_l", "url_c", "url_z", "url_m"]
    assert page.results[0].url == world.catalogue["kiki"][0].url and page.results[0].width == 48
    with pytest.raises(UsageError, match=r"Flickr Pro.*3,600 calls an hour"):
        ENGINES["flickr"](Fetcher(FETCH), EngineConfig(env={})).prepare()


def _commons_batches(web: FakeWeb, first: dict, rest: list[dict]) -> None:
    answers = [first, *rest]

    def serve(request: Request) -> Reply:
        step = int(request.query.get("step", 0))
        return json_reply(answers[step])
    web.route("/w/api.php", serve)


def _page(pid: int, index: int, url: str | None = None) -> dict:
    page = {"pageid": pid, "ns": 6, "title": f"File:P{pid}.jpg", "index": index}
    if url:
        page["imageinfo"] = [{"url": url, "descriptionurl": f"https://c.org/{pid}", "width": "64",
                              "height": 48, "extmetadata": {"Artist": {"value": "<b>Ann</b>"}}}]
    return page


def test_commons_batches_that_repeat_pages_are_merged_by_page_id(world: SearchWorld) -> None:
    """A ``||imageinfo`` continuation repeats the generator's pages, some without imageinfo: merged by
    page id they are one page of results, none lost; ``query.pages`` may be keyed by page id."""
    url = world.web.url("/img/{}.jpg").format
    first = {"continue": {"step": "1", "continue": "||"},
             "query": {"pages": [_page(11, 2, url(11)), _page(12, 1)]}}
    second = {"continue": {"step": "2", "continue": "||"},  # formatversion=1: keyed by page id
              "query": {"pages": {"12": _page(12, 1, url(12)), "11": _page(11, 2)}}}
    third = {"batchcomplete": True, "continue": {"step": "3", "continue": "gsroffset||"},
             "query": {"pages": [_page(11, 2), _page(12, 1)]}}
    last = {"batchcomplete": True, "query": {"pages": {"13": _page(13, 3, url(13))}}}
    _commons_batches(world.web, first, [second, third, last])
    eng = ENGINES["wikimedia"](Fetcher(FETCH), EngineConfig(base_url=world.web.base, api_interval=0))
    pages = list(eng.walk("anything", Filters(), 50))
    assert [[r.url for r in p.results] for p in pages] == [[url(12), url(11)], [url(13)]]
    assert pages[0].results[0].width == 64 and pages[0].results[0].creator == "Ann"
    assert [r.query.get("maxlag") for r in world.web.log] == ["5"] * 4


def test_commons_maxlag_is_waited_out_then_bounded(world: SearchWorld) -> None:
    lagged = json_reply({"error": {"code": "maxlag", "info": "Waiting for db: 7 seconds lagged",
                                   "lag": 7}}, headers={"Retry-After": "5"})
    world.add("dusk", 2)
    ok = world._commons
    calls = iter([lagged, None])
    world.web.route("/w/api.php", lambda r: next(calls, None) or ok(r))
    waits: list[float] = []
    eng = ENGINES["wikimedia"](Fetcher(FETCH), EngineConfig(base_url=world.web.base, api_interval=0,
                                                           sleep=waits.append))
    assert [len(p.results) for p in eng.walk("dusk", Filters(), 10)] == [2] and waits == [7.0]
    world.web.route("/w/api.php", lagged)
    from harvest.search import EngineError
    with pytest.raises(EngineError, match="maxlag"):
        list(eng.walk("dusk", Filters(), 10))
    assert len(waits) == 1 + 4


def test_wikimedia_needs_a_contact_once_and_records_it(world: SearchWorld, tmp_path: Path) -> None:
    world.add("dusk", 2)
    manifest = tmp_path / "m.csv"
    with pytest.raises(UsageError, match="--contact EMAIL or set GLEANSET_CONTACT"):
        run(world, manifest, "dusk", engine="wikimedia", contact=None)
    assert world.hits("/w/api.php") == []
    run(world, manifest, "dusk", engine="wikimedia")
    agent = world.hits("/w/api.php")[0].headers["User-Agent"]
    assert f"({CONTACT})" in agent and agent.startswith("gleanset/")
    assert lineage.entries(manifest)[-1]["details"]["contact"] == CONTACT
    world.add("dawn", 1)
    run(world, manifest, "dawn", engine="wikimedia", contact=None)  # asked once: recorded
    assert f"({CONTACT})" in world.hits("/w/api.php")[-1].headers["User-Agent"]


@pytest.mark.parametrize("name", ["serpapi", "ddgs"])
def test_engine_notice_is_said_once_per_manifest(world: SearchWorld, tmp_path: Path, name: str) -> None:
    world.add("kirby", 1)
    first = run(world, tmp_path / "m.csv", "kirby", engine=name)
    assert len(first["notes"]) == 1 and name in first["notes"][0]
    assert ("DMCA" if name == "serpapi" else "educational purposes only") in first["notes"][0]
    assert run(world, tmp_path / "m.csv", "kirby", engine=name)["notes"] == []
    assert run(world, tmp_path / "other.csv", "kirby", engine=name)["notes"] == first["notes"]
