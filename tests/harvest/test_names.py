"""Names built from outside data stay bounded: a 300-character post id does not fail a video run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import manifests
from harvest.names import MAX_NAME, bounded_name
from manifests import schema
from tests.harvest.conftest import RedditWorld
from tests.harvest.reddit.test_reddit import collect
from tests.harvest.reddit.test_reddit_video import FRAMES, clip, serve, video_post  # noqa: F401 (fixture)


def test_bounded_names_are_short_safe_and_distinct() -> None:
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    assert len(bounded_name(a)) == MAX_NAME and bounded_name(a) != bounded_name(b)
    assert bounded_name("abc123") == "abc123"
    assert bounded_name("../../etc/passwd") == "______etc_passwd"
    assert bounded_name("") == "item" and bounded_name("\udcff" * 200).startswith("_")


def test_a_300_character_post_id_gives_frames_not_a_crash(world: RedditWorld, tmp_path: Path,
                                                           clip: bytes) -> None:  # noqa: F811
    pid = "v" * 300
    serve(world, [video_post(pid)], clip)
    manifest = tmp_path / "m.csv"
    summary = collect(world, manifest, video_frames=FRAMES)
    frame = manifests.read(manifest)
    assert summary["ok"] == 6 and summary["failed"] == 0
    assert set(frame[schema.POST_ID]) == {pid}
    assert all(len(s.split(":")[0]) <= MAX_NAME for s in frame[schema.SCENE])


def test_a_video_streamed_to_disk_gives_the_same_frames(world: RedditWorld, tmp_path: Path,
                                                         clip: bytes) -> None:  # noqa: F811
    serve(world, [video_post("vid01")], clip)
    world.fetch = dataclasses.replace(world.fetch, spool_bytes=1024, chunk=512,
                                      memory_budget=4096)
    assert len(clip) > 1024 + 512  # so the clip cannot fit in memory under these options
    summary = collect(world, tmp_path / "m.csv", video_frames=FRAMES)
    assert summary["ok"] == 6 and summary["failed"] == 0
    assert summary["fetch_limits"]["peak_body_bytes"] <= 1024 + 512
