"""Post -> media rules, on generated posts of every kind and on the recorded r/popular listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvest.reddit import media as rm
from harvest.reddit.media import MediaRules, imgur_direct, plan_media
from harvest.reddit.placeholders import PlaceholderSet
from tests.fixtures import media
from tests.harvest.conftest import crosspost, post


def test_direct_image() -> None:
    plan = plan_media(post("a1"))
    assert [(m.url, m.kind, m.gallery_index) for m in plan.media] == [
        ("https://i.redd.it/a1.jpg", "image", None)]


def test_gallery_in_gallery_data_order_valid_only_largest_unescaped() -> None:
    plan = plan_media(post("g1", "gallery"))
    assert [(m.url, m.gallery_index) for m in plan.media if not m.gone] == [
        ("https://preview.redd.it/g1m0.jpg?width=1200&s=x", 0),
        ("https://preview.redd.it/g1m2.jpg?width=1200&s=x", 2)]
    assert {m.kind for m in plan.media} == {"gallery"}
    # the item with status 'failed' is kept as gone media: a row saying so, nothing to download
    assert [(m.url, m.gallery_index) for m in plan.media if m.gone] == [
        ("https://www.reddit.com/gallery/g1#g1m1", 1)]


def test_gallery_whose_items_are_all_gone_is_skipped() -> None:
    gone = post("g2", "gallery", media_metadata=None)
    assert plan_media(gone).skip == rm.GALLERY_GONE


@pytest.mark.parametrize(("url", "direct"), [
    ("https://i.imgur.com/abc12.png", "https://i.imgur.com/abc12.png"),
    ("https://imgur.com/abc12", "https://i.imgur.com/abc12.jpg"),
    ("https://imgur.com/abc12.gif", "https://i.imgur.com/abc12.gif"),
    ("http://m.imgur.com/abc12/", "https://i.imgur.com/abc12.jpg"),
    ("https://imgur.com/a/abc12", None), ("https://imgur.com/gallery/abc12", None),
    ("https://example.org/abc12", None)])
def test_imgur_links(url: str, direct: str | None) -> None:
    assert imgur_direct(url) == direct


def test_imgur_posts_and_albums() -> None:
    assert plan_media(post("i1", "imgur")).media[0].url == "https://i.imgur.com/i1Ab.png"
    assert plan_media(post("i2", "imgur_page")).media[0].url == "https://i.imgur.com/i2Xyz.jpg"
    album = post("i3", url="https://imgur.com/a/xyzab", domain="imgur.com")
    assert plan_media(album).skip == rm.IMGUR_ALBUM


def test_crosspost_takes_the_parents_media() -> None:
    parent = post("p1", "gallery", subreddit="Art")
    plan = plan_media(crosspost("c1", parent))
    assert [m.gallery_index for m in plan.media if not m.gone] == [0, 2] and plan.media[0].kind == "gallery"


def test_crossposts_of_self_removed_or_nsfw_posts_give_nothing() -> None:
    assert plan_media(crosspost("c2", post("p2", "self"))).skip == rm.SELF_POST
    assert plan_media(crosspost("c3", post("p3", removed_by_category="author"))).skip == rm.REMOVED_POST
    assert plan_media(crosspost("c4", post("p4", over_18=True))).skip == rm.NSFW


@pytest.mark.shared
def test_recorded_crosspost_of_a_self_post(shared_fixtures: Path) -> None:
    cassette = json.loads((shared_fixtures / "reddit" / "crosspost_cassette.json").read_text())
    bodies = [json.loads(i["response"]["body"]["string"]) for i in cassette["interactions"]
              if "/comments/" in i["request"]["uri"]]
    posts = [b[0]["data"]["children"][0]["data"] for b in bodies]
    crossposts = [p for p in posts if p.get("crosspost_parent_list")]
    assert crossposts and crossposts[0]["crosspost_parent_list"][0]["is_self"]
    assert plan_media(crossposts[0]).skip == rm.SELF_POST


def test_link_posts_need_previews() -> None:
    link = post("l1", "link")
    assert plan_media(link).skip == rm.LINK_ONLY
    plan = plan_media(link, MediaRules(previews=True))
    assert plan.media[0].url == "https://external-preview.redd.it/l1.jpg?a=1&b=2"
    assert plan.media[0].kind == "preview"
    assert plan_media(post("l2", "link", preview=None), MediaRules(previews=True)).skip == rm.NO_IMAGE


@pytest.mark.parametrize(("over", "reason"), [
    ({"over_18": True}, rm.NSFW), ({"spoiler": True}, rm.SPOILER),
    ({"removed_by_category": "moderator"}, rm.REMOVED_POST),
    ({"is_self": True, "selftext": "[removed]", "author": "[deleted]"}, rm.REMOVED_POST)])
def test_flags_skip_posts(over: dict, reason: str) -> None:
    assert plan_media(post("f1", **over)).skip == reason


def test_flags_can_be_allowed() -> None:
    rules = MediaRules(allow_nsfw=True, allow_spoilers=True)
    assert plan_media(post("f2", over_18=True, spoiler=True), rules).media


def test_self_posts_and_videos() -> None:
    assert plan_media(post("s1", "self")).skip == rm.SELF_POST
    video = plan_media(post("v1", "video")).media[0]
    assert video.kind == rm.VIDEO and video.url == "https://v.redd.it/v1/DASH_720.mp4"
    gifv = plan_media(post("v2", url="https://i.imgur.com/zzzzz.gifv", domain="i.imgur.com"))
    assert gifv.media[0].kind == rm.VIDEO and gifv.media[0].url.endswith("zzzzz.mp4")


def test_placeholders_match_by_content_not_bytes(tmp_path: Path) -> None:
    """A re-encoded copy of a known placeholder matches; an ordinary photo does not."""
    img = media.removed_placeholder()
    img.save(tmp_path / "removed.png")
    known = PlaceholderSet.from_files([tmp_path / "removed.png"])
    recoded = media.encode(img.resize((322, 162)), "JPEG", quality=70)
    assert known.match(recoded) == "removed.png"
    assert known.match(media.jpeg(5, (161, 81))) is None
    assert not PlaceholderSet() and PlaceholderSet().match(recoded) is None


@pytest.mark.shared
def test_recorded_popular_listing(shared_fixtures: Path) -> None:
    listing = json.loads((shared_fixtures / "reddit" / "popular_hot_2026-04.json").read_text())
    posts = [c["data"] for c in listing["data"]["children"]]
    everything = MediaRules(previews=True, allow_nsfw=True, allow_spoilers=True)
    plans = [plan_media(p, everything) for p in posts]
    kinds = [m.kind for p in plans for m in p.media]
    assert kinds.count("video") >= 20 and kinds.count("image") >= 45 and kinds.count("gallery") >= 14
    for p, plan in zip(posts, plans, strict=True):
        if p.get("is_gallery") and plan.media:
            valid = [i for i in p["gallery_data"]["items"]
                     if p["media_metadata"].get(i["media_id"], {}).get("status") == "valid"]
            assert [m.gallery_index for m in plan.media] == [
                n for n, i in enumerate(p["gallery_data"]["items"]) if i in valid]
        assert all("&amp;" not in m.url for m in plan.media)
    default = [plan_media(p) for p in posts]
    skips = {d.skip for d in default}
    assert rm.SELF_POST in skips and rm.SPOILER in skips
