"""Post sources: choosing one, Arctic Shift windows with paging, zstd dumps, --top, the recorded listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zstandard

import manifests
from harvest.fetch import Fetcher
from harvest.reddit.sources import (
    PostStream,
    SourceOptions,
    arctic_posts,
    choose,
    dump_posts,
    parse_when,
    subreddit_name,
)
from manifests import InputError, UsageError, schema
from tests.fixtures.http import json_reply
from tests.harvest.conftest import ENV, RedditWorld, post
from tests.harvest.reddit.test_reddit import collect

JULY = parse_when("2020-07-01")
AUGUST = parse_when("2020-08-01")


def month_of_posts() -> list[dict]:
    """250 r/Doom posts across July 2020 (plus some outside it and in another subreddit)."""
    posts = [post(f"d{i:04d}", created_utc=JULY + i * 9000, score=(i * 37) % 1000) for i in range(250)]
    posts += [post("early", created_utc=JULY - 10), post("late1", created_utc=AUGUST + 5),
              post("ac001", subreddit="AnimalCrossing", created_utc=JULY + 50)]
    return posts


def test_choose_explains_the_source() -> None:
    base = SourceOptions(("Doom",))
    assert choose(base, ENV).name == "praw"
    assert choose(SourceOptions(("Doom",), site="bot1"), {}).reason.endswith("praw.ini site 'bot1'")
    none = choose(base, {})
    assert none.name == "arctic-shift" and "no Reddit credentials" in none.reason
    assert "the last week" in none.reason  # hot is recent: not the whole history
    assert "all time" in choose(SourceOptions(("Doom",), sort="top"), {}).reason
    window = choose(SourceOptions(("Doom",), after=JULY), ENV)
    assert window.name == "arctic-shift" and "--after/--before" in window.reason
    assert choose(SourceOptions(("Doom",), dumps=(Path("x.zst"),)), ENV).name == "dump"


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        SourceOptions(("Doom",), sort="best")
    with pytest.raises(UsageError):
        SourceOptions(("Doom",), time="decade")
    with pytest.raises(UsageError):
        SourceOptions(("Doom",), after=AUGUST, before=JULY)
    assert parse_when("2020-07-01") == 1593561600 == parse_when("1593561600")
    assert parse_when("2020-07-01T02:00+02:00") == 1593561600
    assert subreddit_name("/r/Doom/") == "Doom" == subreddit_name("Doom")


def test_arctic_shift_pages_through_the_window(world: RedditWorld) -> None:
    world.arctic(month_of_posts())
    posts = list(arctic_posts(Fetcher(world.fetch), world.web.base, "doom", JULY, AUGUST))
    assert len(posts) == 250 and len({p["id"] for p in posts}) == 250
    assert world.web.hits("/api/posts/search") == 3
    newest = list(arctic_posts(Fetcher(world.fetch), world.web.base, "Doom", JULY, AUGUST, True))
    assert newest[0]["id"] == "d0249" and len(newest) == 250


def test_window_top_n_downloads_the_best_posts(world: RedditWorld, tmp_path: Path) -> None:
    posts = month_of_posts()
    world.arctic(posts)
    world.images(posts)
    summary = collect(world, tmp_path / "m.csv", after=JULY, before=AUGUST, top=20)
    frame = manifests.read(tmp_path / "m.csv")
    best = sorted((p for p in posts[:250]), key=lambda p: p["score"], reverse=True)[:20]
    assert sorted(frame[schema.POST_ID]) == sorted(p["id"] for p in best)
    assert summary["post_source"] == "arctic-shift" and "kept the top 20" in summary["notes"][0]
    assert summary["notes"][0].startswith("r/Doom: ranked 250 posts")


def write_dump(path: Path, posts: list[dict]) -> Path:
    lines = "\n".join(json.dumps(p) for p in posts) + "\n{broken json line doom\n"
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(lines.encode()))
    return path


def test_dump_is_filtered_by_subreddit_and_window(tmp_path: Path, caplog) -> None:
    dump = write_dump(tmp_path / "RS_2020-07.zst", month_of_posts())
    posts = list(dump_posts((dump,), ("DOOM",), JULY, AUGUST))
    assert len(posts) == 250 and {p["subreddit"] for p in posts} == {"Doom"}
    assert "1 malformed lines" in caplog.text
    both = list(dump_posts((dump,), ("doom", "animalcrossing"), None, None))
    assert len(both) == 253
    with pytest.raises(InputError, match="does not exist"):
        list(dump_posts((tmp_path / "missing.zst",), ("doom",), None, None))
    (tmp_path / "bad.zst").write_bytes(b"not zstd at all, doom")
    with pytest.raises(InputError, match="zstd"):
        list(dump_posts((tmp_path / "bad.zst",), ("doom",), None, None))


def test_dump_top_n_end_to_end(world: RedditWorld, tmp_path: Path) -> None:
    posts = month_of_posts()
    dump = write_dump(tmp_path / "RS_2020-07.zst", posts)
    world.images(posts)
    summary = collect(world, tmp_path / "m.csv", dumps=(dump,), after=JULY, before=AUGUST, top=5,
                      subreddits=("Doom", "AnimalCrossing"))
    assert summary["post_source"] == "dump" and summary["ok"] == 6  # top 5 of r/Doom, 1 of r/AC
    assert summary["by_label"] == {"AnimalCrossing": {"ok": 1}, "Doom": {"ok": 5}}
    assert world.web.hits("/api/posts/search") == 0


def test_post_stream_limit_without_credentials(world: RedditWorld) -> None:
    world.arctic([post(f"n{i:04d}", created_utc=JULY + i) for i in range(30)])
    opts = SourceOptions(("Doom",), sort="new", limit=7, arctic_url=world.web.base, after=JULY)
    posts = list(PostStream(opts, Fetcher(world.fetch), env={}))
    assert [p["id"] for p in posts] == [f"n{i:04d}" for i in range(29, 22, -1)]


@pytest.mark.shared
def test_recorded_popular_listing_through_praw(shared_fixtures: Path, world: RedditWorld,
                                               tmp_path: Path) -> None:
    body = (shared_fixtures / "reddit" / "popular_hot_2026-04.json").read_bytes()
    listing = json.loads(body)
    posts = [c["data"] for c in listing["data"]["children"]]
    world.raw_listing("popular", "hot", body)
    urls = world.images(posts, size=(32, 24))
    summary = collect(world, tmp_path / "m.csv", subreddits=("popular",), limit=100)
    frame = manifests.read(tmp_path / "m.csv")
    assert summary["posts_listed"] == 100 and summary["skipped"]["video"] >= 20
    assert summary["failed"] == 0 and len(frame) >= 60 and set(frame[schema.ORIGIN]) <= set(urls)
    galleries = frame[frame[schema.GALLERY_INDEX].notna()]
    assert galleries[schema.POST_ID].nunique() >= 10
    assert set(frame[schema.LABEL]) == set(frame[schema.SUBREDDIT]) and frame[schema.LABEL].nunique() > 5


def test_arctic_shift_stops_when_the_cursor_does_not_advance(world: RedditWorld) -> None:
    """Fresh ids on every page, all with one created_utc: paging stops instead of going on forever
    (issue 25, item 11). The server stops answering after 50 pages either way (a bounded test)."""
    pages = iter(range(50))

    def same_second(request):
        n = next(pages, None)
        if n is None:
            return json_reply({"data": []})
        return json_reply({"data": [post(f"p{n}x{i}", created_utc=JULY + 5) for i in range(100)]})

    world.web.route("/api/posts/search", same_second)
    for newest_first in (False, True):
        posts = list(arctic_posts(Fetcher(world.fetch), world.web.base, "Doom", JULY, AUGUST,
                                  newest_first))
        assert len(posts) <= 200  # one page, and at most the one that did not move the cursor
    assert world.web.hits("/api/posts/search") <= 4


def test_arctic_shift_pages_no_further_than_the_limit(world: RedditWorld) -> None:
    world.arctic(month_of_posts())
    opts = SourceOptions(("Doom",), limit=5, arctic_url=world.web.base, after=JULY, before=AUGUST)
    posts = list(PostStream(opts, Fetcher(world.fetch), env={}))
    assert len(posts) == 5 and world.web.hits("/api/posts/search") == 1  # of the window's 3 pages
    world.web.log.clear()
    newest = SourceOptions(("Doom",), sort="new", limit=150, arctic_url=world.web.base, after=JULY)
    posts = list(PostStream(newest, Fetcher(world.fetch), env={}))
    assert len(posts) == 150 and world.web.hits("/api/posts/search") == 2
