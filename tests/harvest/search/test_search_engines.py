"""Image-search engines one by one: each against a local server answering its documented shape."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import date

import pytest

from harvest.fetch import Fetcher, FetchOptions
from harvest.optout.signals import blocking_directive
from harvest.search import ENGINES, Engine, EngineConfig, EngineError, Filters
from harvest.search.engine import DATES, LICENSE, SAFE, normalize_license, strip_html
from harvest.search.flickr import unix
from harvest.search.registry import check_filters, engines_help
from manifests import UsageError
from tests.fixtures.http import FakeWeb, Reply
from tests.fixtures.search import KEYS, SearchWorld

FETCH = FetchOptions(workers=2, per_host=2, timeout=5, retries=1, backoff=0.001, max_backoff=0.002,
                     allow_private=True)  # the fake engines are on 127.0.0.1: opt in
NO_OPENVERSE_LOGIN = {k: v for k, v in KEYS.items() if not k.startswith("OPENVERSE")}


@pytest.fixture
def world() -> Iterator[SearchWorld]:
    with FakeWeb() as web:
        yield SearchWorld(web).serve()


def engine(world: SearchWorld, name: str, env: dict[str, str] | None = None, **config) -> Engine:
    fetcher = Fetcher(FETCH)
    eng = ENGINES[name](fetcher, EngineConfig(base_url=world.web.base,
                                              env=NO_OPENVERSE_LOGIN if env is None else env,
                                              api_interval=0, **{"client": world.ddgs, **config}))
    eng.prepare()
    return eng


def listed(eng: Engine, query: str, limit: int, filters: Filters = Filters()) -> list:
    return list(eng.walk(query, filters, limit))


def test_engine_registry_contract() -> None:
    """Every engine: documented, constructible without I/O, honest about its filters."""
    with FakeWeb() as web:
        for name, cls in ENGINES.items():
            assert cls.name == name and cls.about and cls.__doc__
            assert inspect.getmodule(cls).__doc__, f"{name}'s module has no docstring"
            assert cls.base_url.startswith("https://") and cls.filters <= {LICENSE, DATES, SAFE}
            assert cls.page_size > 0 and (cls.depth_cap is None or cls.depth_cap >= cls.page_size)
            cls(Fetcher(FETCH), EngineConfig(base_url=web.base))  # no key, no request: fine
            assert name in engines_help()
        assert web.log == []


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_each_engine_reads_its_documented_shape(world: SearchWorld, name: str) -> None:
    items = world.add("tarzan fanart", 30) + world.add("tarzan fanart", 2, creator=None,
                                                       width=None, height=None)
    pages = listed(engine(world, name), "tarzan fanart", 31)
    results = [r for p in pages for r in p.results]
    assert [r.url for r in results] == [i.url for i in items][:31]
    assert [p.rank for p in pages] == sorted(p.rank for p in pages) and pages[0].rank == 1
    first, last = results[0], results[30]
    if name == "flickr":  # Flickr's page is the photo's page, built from owner and id
        assert first.page_url == f"https://www.flickr.com/photos/{items[0].creator}@N01/{items[0].id}/"
        assert first.source_domain == "flickr.com"
    else:
        assert first.page_url == items[0].page and first.source_domain == "example-art.org"
    assert (first.width, first.height) == (48, 36) and (last.width, last.height) == (None, None)
    if name in ("openverse", "wikimedia", "flickr"):  # the engines that know creators and licences
        assert first.creator.startswith(items[0].creator) and last.creator in (None, "anon@N01")
        assert first.license.startswith("by-sa") and "creativecommons.org" in first.license_url


def test_openverse_anonymous_depth_cap(world: SearchWorld) -> None:
    world.add("castle", 300, reply=Reply(b"x"))
    pages = listed(engine(world, "openverse"), "castle", 1000)
    assert sum(len(p.results) for p in pages) == 240 and len(pages) == 12
    assert pages[-1].capped and "240" in pages[-1].capped and "OPENVERSE_CLIENT_ID" in pages[-1].capped
    requests = world.hits("/v1/images/")
    assert len(requests) == 12 and {r.query["page_size"] for r in requests} == {"20"}
    assert all(r.query["mature"] == "false" for r in requests)


def test_openverse_token_raises_page_size_and_lifts_the_cap(world: SearchWorld) -> None:
    world.add("castle", 300, reply=Reply(b"x"))
    pages = listed(engine(world, "openverse", env=KEYS), "castle", 1000)
    assert sum(len(p.results) for p in pages) == 300 and not any(p.capped for p in pages)
    (token,) = world.hits("/v1/auth_tokens/token/")
    assert b"grant_type=client_credentials" in token.body and b"client_secret=ov-secret" in token.body
    (request,) = world.hits("/v1/images/")
    assert request.query["page_size"] == "500" and request.headers["Authorization"] == "Bearer ov-token"


def test_openverse_license_and_safe_filters(world: SearchWorld) -> None:
    world.add("castle", 5, license="cc0")
    world.add("castle", 5, license="by-nc")
    pages = listed(engine(world, "openverse"), "castle", 50, Filters(licenses=("cc0", "by"), safe=False))
    assert {r.license for p in pages for r in p.results} == {"cc0 1.0"}
    (request,) = world.hits("/v1/images/")
    assert request.query["license"] == "cc0,by" and request.query["mature"] == "true"
    assert "license_type" not in request.query
    listed(engine(world, "openverse"), "castle", 50, Filters(licenses=("commercial",)))
    last = world.hits("/v1/images/")[-1].query
    assert last["license_type"] == "commercial" and "license" not in last


def test_flickr_ceiling_filters_and_key(world: SearchWorld) -> None:
    world.add("kiki", 4100, reply=Reply(b"x"))
    pages = listed(engine(world, "flickr"), "kiki", 5000)
    assert sum(len(p.results) for p in pages) == 4000 and len(pages) == 16
    assert "4000" in pages[-1].capped and len(world.hits("/services/rest/")) == 16
    world.add("totoro", 3, license="cc0", uploaded=unix(date(2016, 5, 1)))
    world.add("totoro", 3, license="cc0", uploaded=unix(date(2021, 5, 1)))
    world.add("totoro", 3, license="by-nc", uploaded=unix(date(2016, 5, 1)))
    window = Filters(licenses=("cc0", "by"), after=date(2015, 1, 1), before=date(2020, 1, 1), safe=True)
    pages = listed(engine(world, "flickr"), "totoro", 100, window)
    assert len(pages[0].results) == 3 and {r.license for r in pages[0].results} == {"cc0 1.0"}
    request = world.hits("/services/rest/", text="totoro")[0].query
    assert request["license"] == "4,11,9" and request["safe_search"] == "1"
    listed(engine(world, "flickr"), "totoro", 100, Filters(licenses=("commercial", "modification")))
    assert world.hits("/services/rest/", text="totoro")[-1].query["license"] == "4,11,5,12,9,7,10"
    assert request["min_upload_date"] == "1420070400" and request["max_upload_date"] == "1577836800"
    with pytest.raises(UsageError, match="FLICKR_API_KEY"):
        engine(world, "flickr", env={})
    with pytest.raises(EngineError, match="error 100: Invalid API Key"):
        listed(engine(world, "flickr", env={"FLICKR_API_KEY": "wrong"}), "totoro", 10)


def test_wikimedia_continue_paging_and_extmetadata(world: SearchWorld) -> None:
    items = world.add("dusk", 60, reply=Reply(b"x"))
    pages = listed(engine(world, "wikimedia"), "dusk", 100)
    assert [r.url for p in pages for r in p.results] == [i.url for i in items]  # by index, not pageid
    first, second = world.hits("/w/api.php")
    assert "gsroffset" not in first.query and second.query["gsroffset"] == "50"
    assert second.query["continue"] == "gsroffset||"
    result = pages[0].results[0]
    assert result.creator == f"{items[0].creator} & friends" and result.license == "by-sa 4.0"
    assert result.creator_url == f"https://commons.wikimedia.org/wiki/User:{items[0].creator}"
    assert result.title == f"{items[0].title}.jpg" and result.provider == "wikimedia"


def test_serpapi_ijn_paging_until_no_results(world: SearchWorld) -> None:
    world.add("ghibli", 150, reply=Reply(b"x"))
    pages = listed(engine(world, "serpapi"), "ghibli", 1000,
                   Filters(after=date(2015, 1, 1), before=date(2020, 1, 2), safe=False))
    assert sum(len(p.results) for p in pages) == 150 and pages[-1].next is None
    requests = world.hits("/search.json")
    assert [r.query["ijn"] for r in requests] == ["0", "1", "2"]
    assert requests[0].query["tbs"] == "cdr:1,cd_min:1/1/2015,cd_max:1/2/2020"
    assert requests[0].query["safe"] == "off" and requests[0].query["api_key"] == "serp-key"
    with pytest.raises(UsageError, match="SERPAPI_KEY"):
        engine(world, "serpapi", env={})


def test_brave_one_page_at_most_200(world: SearchWorld) -> None:
    world.add("doom", 250, reply=Reply(b"x"))
    pages = listed(engine(world, "brave"), "doom", 500)
    assert len(pages) == 1 and len(pages[0].results) == 200 and pages[0].capped
    (request,) = world.hits("/res/v1/images/search")
    assert request.query["count"] == "200" and request.query["safesearch"] == "strict"
    assert listed(engine(world, "brave"), "doom", 7)[0].results[6].url.endswith(".jpg")
    assert world.hits("/res/v1/images/search")[-1].query["count"] == "7"
    with pytest.raises(UsageError, match="BRAVE_API_KEY"):
        engine(world, "brave", env={})


def test_ddgs_injected_search_and_one_line_failures(world: SearchWorld) -> None:
    world.add("kirby", 12, reply=Reply(b"x"))
    calls = []

    def search(query, **kwargs):
        calls.append(kwargs)
        return world.ddgs(query, **kwargs)

    pages = listed(engine(world, "ddgs", client=search), "kirby", 10, Filters(safe=True))
    assert len(pages) == 1 and len(pages[0].results) == 10
    assert calls == [{"safesearch": "on", "max_results": 10}]

    from ddgs.exceptions import RatelimitException

    def broken(query, **kwargs):
        raise RatelimitException("https://duckduckgo.com/i.js 403 Ratelimit\nmore lines")

    with pytest.raises(EngineError) as info:
        listed(engine(world, "ddgs", client=broken), "kirby", 10)
    assert "\n" not in str(info.value) and "RatelimitException" in str(info.value)


def test_empty_results_end_every_engine(world: SearchWorld) -> None:
    for name in ENGINES:
        pages = listed(engine(world, name), "nothing at all", 50)
        assert sum(len(p.results) for p in pages) == 0 and len(pages) <= 1


def test_filters_an_engine_cannot_apply_are_errors_naming_those_that_can() -> None:
    with pytest.raises(UsageError, match=r"--after/--before.*openverse.*engines that can: flickr, serpapi"):
        check_filters("openverse", Filters(after=date(2020, 1, 1)))
    with pytest.raises(UsageError, match=r"--license.*ddgs.*engines that can: openverse, flickr"):
        check_filters("ddgs", Filters(licenses=("by",)))
    with pytest.raises(UsageError, match=r"--safe/--no-safe.*wikimedia"):
        check_filters("wikimedia", Filters(safe=True))
    with pytest.raises(UsageError, match="--license gpl: use codes from by, by-sa"):
        check_filters("flickr", Filters(licenses=("gpl",)))
    with pytest.raises(UsageError, match="allows no licence at all"):
        check_filters("flickr", Filters(licenses=("by-nc", "commercial")))
    with pytest.raises(UsageError, match="--engine 'bing': use one of openverse"):
        check_filters("bing", Filters())
    with pytest.raises(UsageError, match="must be after"):
        check_filters("flickr", Filters(after=date(2020, 1, 1), before=date(2019, 1, 1)))
    check_filters("flickr", Filters(("by",), date(2015, 1, 1), date(2020, 1, 1), True))


@pytest.mark.parametrize(("header", "blocked"), [
    ("noai", "noai"), ("noindex, noimageai", "noimageai"), ("NoAI", "noai"),
    ("otherbot: noai", None), ("otherbot: noai, gleanset: noimageai", "noimageai"),
    ("*: noai", "noai"), ("noindex, nofollow", None), ("unavailable_after: 25 Jun 2030, noai", "noai"),
    (None, None), ("", None)])
def test_x_robots_tag(header: str | None, blocked: str | None) -> None:
    assert blocking_directive(header) == blocked


def test_licence_names_and_html_stripping() -> None:
    assert normalize_license("CC BY-SA 4.0") == "by-sa 4.0"
    assert normalize_license("by", "2.0") == "by 2.0" and normalize_license("CC0") == "cc0"
    assert normalize_license("Public domain") == "public domain" and normalize_license(None) is None
    text, href = strip_html('<span><a href="//x.org/U:A">Ann &amp; Bo</a>\n (<i>talk</i>)</span>')
    assert text == "Ann & Bo (talk)" and href == "https://x.org/U:A"
    assert strip_html(None) == (None, None)


def test_engine_credentials_stay_with_the_engines_origin(world: SearchWorld) -> None:
    """Brave's token header and Openverse's bearer token are not sent on to another origin, and the
    Openverse token POST follows no redirect (issue 25, item 8)."""
    from manifests import NetworkError

    world.add("castle", 3)
    with FakeWeb() as other:
        other.route("/res/v1/images/search", world._brave)
        other.route("/v1/images/", world._openverse)
        world.web.route("/res/v1/images/search", Reply(b"", 302, {
            "Location": other.url("/res/v1/images/search?q=castle&count=3")}))
        with pytest.raises(NetworkError, match="422"):  # the other origin got no token
            listed(engine(world, "brave"), "castle", 3)
        (sent,) = [r for r in other.log if r.path == "/res/v1/images/search"]
        assert "X-Subscription-Token" not in sent.headers
        openverse = engine(world, "openverse", env=KEYS)  # the token comes from the engine's origin
        world.web.route("/v1/images/", Reply(b"", 307, {"Location": other.url("/v1/images/?q=castle")}))
        assert [len(p.results) for p in listed(openverse, "castle", 3)] == [3]
        assert "Authorization" not in other.log[-1].headers
        world.web.route("/v1/auth_tokens/token/", Reply(b"", 307, {
            "Location": other.url("/v1/auth_tokens/token/")}))
        with pytest.raises(NetworkError, match="redirect"):
            engine(world, "openverse", env=KEYS)
        assert other.hits("/v1/auth_tokens/token/") == 0
