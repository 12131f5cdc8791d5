"""Reddit placeholders and repeats (issue 15): imgur's removed.png redirect, Reddit's asset images,
known placeholder digests, failed gallery items, and bytes already stored under another URL."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pandas as pd
import pytest

import manifests
from harvest.reddit.media import MediaRules
from harvest.reddit.placeholders import KNOWN_DIGESTS, PlaceholderSet, placeholder_url
from manifests import schema
from tests.fixtures import media
from tests.fixtures.http import Reply
from tests.harvest.conftest import RedditWorld, post
from tests.harvest.reddit.test_reddit import collect


def image_requests(world: RedditWorld) -> list[str]:
    return [r.path for r in world.web.log if not r.path.startswith(("/r/", "/api/"))]


def stored_files(root: Path) -> list[Path]:
    return [p for p in (root / "images").rglob("*") if p.is_file()] if (root / "images").exists() else []


@pytest.mark.parametrize(("url", "placeholder"), [
    ("https://i.imgur.com/removed.png", True), ("http://i.imgur.com/removed.png", True),
    ("https://www.redditstatic.com/desktop2x/img/renderTimingPixel.png", True),
    ("https://i.redd.it/removed.png", True),
    ("https://i.imgur.com/abc12.png", False), ("https://i.redd.it/removed_cat.png", False), (None, False)])
def test_placeholder_urls(url: str | None, placeholder: bool) -> None:
    assert (placeholder_url(url) is not None) == placeholder


@pytest.mark.parametrize(("kind", "path", "placeholder", "size"), [
    ("imgur", "/i.imgur.com/i1Ab.png", "/i.imgur.com/removed.png", (161, 81)),
    ("image", "/i.redd.it/i1.jpg", "/i.redd.it/removed.png", (130, 60))])
def test_a_redirect_to_a_placeholder_is_removed_before_anything_is_stored(
        world: RedditWorld, tmp_path: Path, kind: str, path: str, placeholder: str,
        size: tuple[int, int]) -> None:
    posts = [post("i1", kind), post("ok01")]
    world.listing("Doom", "hot", posts)
    world.images(posts)
    web = world.web
    web.route(path, Reply(b"", 302, {"Location": web.url(placeholder)}))
    web.route(placeholder, Reply(media.jpeg(5, size)))  # no --placeholder given
    manifest = tmp_path / "m.csv"
    collect(world, manifest)
    frame = manifests.read(manifest).set_index(schema.POST_ID)
    assert frame.loc["i1", schema.STATUS] == schema.REMOVED and "removed.png" in frame.loc["i1", schema.ERROR]
    assert frame.loc["i1", schema.MEDIA_URL] == "https:/" + placeholder
    assert len(stored_files(tmp_path)) == 1  # only ok01's image
    world.web.log.clear()
    collect(world, manifest)
    assert image_requests(world) == []  # a rerun does not ask again


def test_reddit_asset_preview_and_failed_gallery_items_are_rows_not_downloads(
        world: RedditWorld, tmp_path: Path) -> None:
    gone = "https://www.redditstatic.com/desktop2x/img/renderTimingPixel.png"
    link = post("ln01", "link", preview={"images": [{"source": {"url": gone}}]})
    posts = [link, post("gal01", "gallery")]
    world.listing("Doom", "hot", posts)
    world.images([posts[1]])
    world.fetch = dataclasses.replace(world.fetch, mirrors=(
        *world.fetch.mirrors, ("https://www.redditstatic.com/", world.web.url("/redditstatic/"))))
    world.web.route("/redditstatic/desktop2x/img/renderTimingPixel.png", Reply(media.jpeg(9)))
    collect(world, tmp_path / "m.csv", rules=MediaRules(previews=True))
    frame = manifests.read(tmp_path / "m.csv")
    removed = frame[frame[schema.STATUS] == schema.REMOVED]
    assert sorted(removed[schema.ORIGIN]) == sorted([gone, "https://www.reddit.com/gallery/gal01#gal01m1"])
    assert not any("redditstatic" in p or "gal01m1" in p for p in image_requests(world))
    assert (frame[schema.STATUS] == schema.OK).sum() == 2


def test_known_placeholders_match_by_digest_by_default() -> None:
    data = media.jpeg(3)
    digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert PlaceholderSet(digests=((digest, "ours"),)).match(data) == "ours"
    assert PlaceholderSet().match(data) is None
    known = dict(PlaceholderSet.known().digests)
    assert known == KNOWN_DIGESTS and "imgur removed.png" in known.values()
    # --placeholder files add to the known ones
    assert dict(PlaceholderSet().with_known().digests) == KNOWN_DIGESTS


def test_bytes_stored_under_another_url_are_recorded_and_not_fetched_again(
        world: RedditWorld, tmp_path: Path) -> None:
    posts = [post("a0001"), post("a0002"), post("a0003")]
    world.listing("Doom", "hot", posts)
    world.images(posts)
    same = media.jpeg(42, (70, 50))
    world.web.route("/i.redd.it/a0001.jpg", Reply(same))
    world.web.route("/i.redd.it/a0002.jpg", Reply(same))
    manifest = tmp_path / "m.csv"
    collect(world, manifest)
    frame = manifests.read(manifest).set_index(schema.POST_ID)
    sha = hashlib.sha256(same).hexdigest()
    statuses = frame.loc[["a0001", "a0002"], schema.STATUS].tolist()
    assert sorted(statuses) == [schema.DUPLICATE, schema.OK]
    repeat = frame[frame[schema.STATUS] == schema.DUPLICATE].iloc[0]
    assert repeat[schema.DUP_OF] == sha and "the same bytes as https://i.redd.it/a000" in repeat[schema.ERROR]
    assert frame.loc["a0003", schema.STATUS] == schema.OK and len(stored_files(tmp_path)) == 2
    world.web.log.clear()
    collect(world, manifest)
    assert image_requests(world) == []


IMGUR_ETAG = '"d835884373f4d6c8f24742ceabe74946"'  # the MD5 of imgur's removed.png, as imgur sends it


def test_placeholder_etag_is_removed_before_the_body_is_read(world: RedditWorld, tmp_path: Path) -> None:
    posts = [post("i2", "imgur"), post("ok02")]
    world.listing("Doom", "hot", posts)
    world.images(posts)
    # Bytes that are not the placeholder and match no digest: only the ETag tells.
    world.web.route("/i.imgur.com/i2Ab.png", Reply(media.jpeg(77, (161, 81)), headers={"ETag": IMGUR_ETAG},
                                                   content_type="image/png"))
    manifest = tmp_path / "m.csv"
    summary = collect(world, manifest)
    frame = manifests.read(manifest).set_index(schema.POST_ID)
    row = frame.loc["i2"]
    assert row[schema.STATUS] == schema.REMOVED and pd.isna(row[schema.PATH]) and pd.isna(row[schema.SHA256])
    assert "ETag" in row[schema.ERROR] and "imgur removed.png" in row[schema.ERROR]
    assert row[schema.ORIGIN] == "https://i.imgur.com/i2Ab.png"
    assert summary["statuses"] == {"ok": 1, "removed": 1} and len(stored_files(tmp_path)) == 1
    world.web.log.clear()
    again = collect(world, manifest)
    assert image_requests(world) == [] and again["posts_known"] == 2  # the archive recorded it


@pytest.mark.parametrize(("etag", "found"), [
    (IMGUR_ETAG, True), ('W/"D835884373F4D6C8F24742CEABE74946"', True), ('"abc"', False), (None, False)])
def test_reject_reads_the_etag_and_the_url(etag: str | None, found: bool) -> None:
    headers = {"ETag": etag} if etag else {}
    known = PlaceholderSet.known()
    assert (known.reject("https://i.imgur.com/x1Ab.png", headers) is not None) == found
    assert PlaceholderSet().reject("https://i.imgur.com/x1Ab.png", headers) is None  # no digests known
    assert "removed.png" in known.reject("https://i.imgur.com/removed.png", {})


def test_bytes_stored_by_an_earlier_run_are_a_repeat_row_and_not_fetched_again(
        world: RedditWorld, tmp_path: Path) -> None:
    same = media.jpeg(43, (70, 50))
    world.web.route("/i.redd.it/b0001.jpg", Reply(same))
    world.web.route("/i.redd.it/b0002.jpg", Reply(same))  # a later post re-uploads the same image
    manifest = tmp_path / "m.csv"
    world.listing("Doom", "hot", [post("b0001")])
    collect(world, manifest)
    world.listing("Doom", "hot", [post("b0001"), post("b0002")])
    collect(world, manifest)
    frame = manifests.read(manifest).set_index(schema.POST_ID)
    repeat = frame.loc["b0002"]
    assert repeat[schema.STATUS] == schema.DUPLICATE and pd.isna(repeat[schema.PATH])
    assert repeat[schema.DUP_OF] == frame.loc["b0001", schema.SHA256] == hashlib.sha256(same).hexdigest()
    assert repeat[schema.ERROR] == "the same bytes as https://i.redd.it/b0001.jpg"
    assert len(stored_files(tmp_path)) == 1
    world.web.log.clear()
    collect(world, manifest)
    assert image_requests(world) == [] and len(manifests.read(manifest)) == 2
