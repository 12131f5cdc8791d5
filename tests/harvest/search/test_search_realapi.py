"""The engines on the services' real recorded answers (``../shared/fixtures/realapi``; skipped with a
reason where it is absent). The shapes they show are also generated in ``test_search_accounting.py``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import manifests
from harvest.fetch import Fetcher
from harvest.search import ENGINES, EngineConfig, Filters, SearchCollector, SearchOptions
from manifests import Appender, schema
from tests.fixtures import media
from tests.fixtures.http import FakeWeb, Reply, Request, json_reply
from tests.harvest.search.test_search import ENV, FETCH

pytestmark = pytest.mark.shared


@pytest.fixture
def realapi(shared_fixtures: Path) -> Path:
    return shared_fixtures / "realapi"


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    with FakeWeb() as server:
        yield server


def body(realapi: Path, name: str) -> Any:
    return json.loads((realapi / name).read_text(encoding="utf-8"))


def engine(name: str, web: FakeWeb) -> Any:
    return ENGINES[name](Fetcher(FETCH), EngineConfig(base_url=web.base, env=ENV, api_interval=0))


def test_flickr_real_answer_loses_none_of_its_30_photos(realapi: Path, web: FakeWeb,
                                                       tmp_path: Path) -> None:
    """Flickr omits ``url_l`` for photos smaller than it (2 of these 30): they take ``url_m`` and
    become rows like the others; numbers sent as strings and HTML descriptions are read."""
    answer = body(realapi, "flickr/photos_search_30_extras_openverse-catalog.json")
    photos = answer["photos"]["photo"]
    web.route("/services/rest/", json_reply(answer))
    for n, photo in enumerate(photos):  # every size of every photo served, as live.staticflickr.com
        for key in [k for k in photo if k.startswith("url_")]:
            web.route("/flickr" + urlsplit(photo[key]).path,
                      Reply(media.jpeg(n, (40, 32)), content_type="image/jpeg"))
    fetch = dataclasses.replace(FETCH, mirrors=(("https://live.staticflickr.com/", web.url("/flickr/")),))
    opts = SearchOptions(queries=("cat",), label="cat", engine="flickr", limit=30, engine_url=web.base,
                         env=ENV, api_interval=0, fetch=fetch)
    with Appender(tmp_path / "m.csv", interval=0) as sink:
        summary = SearchCollector(opts).run(sink).to_dict()
    assert summary["queries"]["cat"]["listed"] == 30 == summary["queries"]["cat"]["rows"]
    frame = manifests.read(tmp_path / "m.csv")
    assert (frame[schema.STATUS] == schema.OK).sum() == 30
    small = [p for p in photos if "url_l" not in p]
    assert len(small) == 2
    assert set(frame[schema.ORIGIN]) >= {p["url_m"] for p in small}
    row = frame.set_index(schema.ORIGIN).loc[photos[0]["url_l"]]
    assert row[schema.LICENSE] == "by-nc-sa 2.0" and row[schema.CREATOR] == photos[0]["ownername"]
    assert row[schema.CLAIMED_WIDTH] == photos[0]["width_l"]
    assert row[schema.PAGE_URL] == f"https://www.flickr.com/photos/{photos[0]['owner']}/{photos[0]['id']}/"


def test_openverse_real_page_and_empty_answer(realapi: Path, web: FakeWeb) -> None:
    answer = body(realapi, "openverse/images_q=cat_page1_2022-06-08.json")
    empty = body(realapi, "openverse/images_q=querywithnoresults_empty_2024-01-02.json")
    web.route("/v1/images/", lambda r: json_reply(answer if r.query["q"] == "cat" else empty))
    eng = engine("openverse", web)
    pages = list(eng.walk("cat", Filters(), 20))
    results = [r for p in pages for r in p.results]
    assert [r.url for r in results] == [i["url"] for i in answer["results"]] and len(results) == 20
    first = answer["results"][0]
    assert results[0].license == f"{first['license']} {first['license_version']}"
    assert results[0].page_url == first["foreign_landing_url"] and results[0].creator == first["creator"]
    assert all("localhost" not in r.url for r in results)  # thumbnails are the request host's, not taken
    assert [len(p.results) for p in eng.walk("querywithnoresults", Filters(), 20)] in ([], [0])


def _commons(realapi: Path) -> dict[str, Any]:
    folder = realapi / "wikimedia_commons"
    return {f.stem: json.loads(f.read_text(encoding="utf-8")) for f in folder.glob("*.json")}


def test_commons_real_continuation_batches_merge_by_page_id(realapi: Path, web: FakeWeb) -> None:
    """Batch 1 has the pages' imageinfo; batches 2 and 3 repeat them without it (``||imageinfo``, more
    globalusage) until ``batchcomplete``; then a generator continuation; pages keyed by page id."""
    batches = _commons(realapi)
    chain = {None: "allimages_batch1_continue_gucontinue"}
    for name in ("allimages_batch1_continue_gucontinue", "allimages_batch2_continue_gucontinue",
                 "allimages_batch3_batchcomplete"):
        nxt = {"allimages_batch1_continue_gucontinue": "allimages_batch2_continue_gucontinue",
               "allimages_batch2_continue_gucontinue": "allimages_batch3_batchcomplete",
               "allimages_batch3_batchcomplete": "allimages_28pages_batchcomplete_nocontinue"}[name]
        sent = batches[name]["continue"]
        chain[sent.get("gucontinue") or sent.get("gaicontinue")] = nxt

    def serve(request: Request) -> Reply:
        key = request.query.get("gucontinue") or request.query.get("gaicontinue")
        return json_reply(batches[chain[key]])
    web.route("/w/api.php", serve)
    pages = list(engine("wikimedia", web).walk("anything", Filters(), 500))
    results = [r for p in pages for r in p.results]
    first = batches["allimages_batch1_continue_gucontinue"]["query"]["pages"]
    assert [len(p.results) for p in pages] == [len(first), 28] and all(r.usable for r in results)
    assert len(web.log) == 4
    by_title = {r.title: r for r in results}
    for page in first.values():
        info = page["imageinfo"][0]
        result = by_title[page["title"].removeprefix("File:")]
        assert result.url == info["url"] and result.width == info["width"]
        assert "<" not in (result.creator or "")  # Artist's HTML stripped
    licensed = [r for r in results if r.license_url]
    assert 0 < len(licensed) <= len(results)  # LicenseUrl is absent for some files


def test_commons_real_batch_with_both_batchcomplete_and_continue(realapi: Path, web: FakeWeb) -> None:
    batch = _commons(realapi)["allimages_50pages_continue_gaicontinue"]
    web.route("/w/api.php", [json_reply(batch), json_reply({"batchcomplete": ""})])
    (page, last) = engine("wikimedia", web).walk("anything", Filters(), 500)
    assert len(page.results) == 50 and all(r.usable for r in page.results)
    assert page.next == batch["continue"] and last.results == []
