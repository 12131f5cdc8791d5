"""The Reddit media code on Reddit's real recorded answers (``../shared/fixtures/realapi/reddit``,
skipped with a reason where it is absent), and the same shapes generated, so they are tested anywhere:
a gallery whose ``media_metadata`` order differs from ``gallery_data`` order, an animated item with
``s.gif``/``s.mp4`` and no ``s.u``, and crossposts whose own ``url`` is a relative permalink."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvest.reddit import media as rm
from harvest.reddit.media import MediaRules, plan_media
from tests.harvest.conftest import crosspost, post

EVERYTHING = MediaRules(previews=True, allow_nsfw=True, allow_spoilers=True)


def _load(shared: Path, name: str) -> object:
    return json.loads((shared / "realapi" / "reddit" / name).read_text(encoding="utf-8"))


@pytest.mark.shared
def test_real_gallery_follows_gallery_data_order_and_takes_the_animated_gif(shared_fixtures: Path) -> None:
    listing = _load(shared_fixtures, "gallery_post_comments_huw6vs_2020-07-20.json")
    gallery = listing[0]["data"]["children"][0]["data"]
    order = [i["media_id"] for i in gallery["gallery_data"]["items"]]
    assert list(gallery["media_metadata"]) != order  # the shape worth knowing
    plan = plan_media(gallery, EVERYTHING)
    assert [m.gallery_index for m in plan.media] == [0, 1, 2, 3]
    assert [m.url.split("/")[-1].split(".")[0] for m in plan.media] == order
    animated = [m for m in plan.media if gallery["media_metadata"][order[m.gallery_index]]["e"]
                == "AnimatedImage"]
    assert len(animated) == 1 and animated[0].url.endswith(".gif") and animated[0].kind == "gallery"
    assert all("&amp;" not in m.url for m in plan.media)


@pytest.mark.shared
def test_real_overview_crossposts_with_relative_urls(shared_fixtures: Path) -> None:
    listing = _load(shared_fixtures, "user_spez_overview_hot_limit100_crossposts_2026-06-08.json")
    things = listing["data"]["children"]
    posts = [c["data"] for c in things if c["kind"] == "t3"]
    assert len(things) == 100 and len(posts) == 10
    crossposts = [p for p in posts if p.get("crosspost_parent_list")]
    assert len(crossposts) == 6 and all(p["url"].startswith("/r/") for p in crossposts)
    for p in posts:  # every post here is text: crossposts read their parent's, never their own url
        plan = plan_media(p, EVERYTHING)
        assert plan.skip == rm.SELF_POST and plan.media == ()


def test_generated_gallery_with_an_animated_item_and_reordered_metadata() -> None:
    gallery = post("g1", "gallery")
    ids = [i["media_id"] for i in gallery["gallery_data"]["items"]]
    gallery["media_metadata"][ids[1]] = {"status": "valid", "e": "AnimatedImage", "m": "image/gif",
                                         "id": ids[1], "s": {"x": 120, "y": 80,
                                         "gif": f"https://i.redd.it/{ids[1]}.gif",
                                         "mp4": f"https://preview.redd.it/{ids[1]}.gif?format=mp4&amp;s=z"}}
    plan = plan_media(gallery, EVERYTHING)
    assert [(m.gallery_index, m.kind) for m in plan.media] == [(0, "gallery"), (1, "gallery"),
                                                               (2, "gallery")]
    assert plan.media[1].url == f"https://i.redd.it/{ids[1]}.gif"
    assert plan.media[2].url.startswith(f"https://preview.redd.it/{ids[2]}.jpg")
    only_mp4 = {**gallery["media_metadata"][ids[1]], "s": {"mp4": "https://preview.redd.it/x.gif?a=1&amp;b=2"}}
    gallery["media_metadata"][ids[1]] = only_mp4
    assert plan_media(gallery, EVERYTHING).media[1].kind == "video"


def test_generated_crosspost_with_a_relative_permalink_url() -> None:
    parent = post("p9", "image")
    child = crosspost("c9", parent)
    child["url"] = "/r/Doom/comments/p9/post_p9/"  # as Reddit sends some crossposts
    plan = plan_media(child, EVERYTHING)
    assert [m.url for m in plan.media] == ["https://i.redd.it/p9.jpg"]
