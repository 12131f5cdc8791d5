"""``harvest reddit --recheck``: a local source that deletes, removes and edits posts between two runs;
the recheck marks exactly their rows ``removed`` (with time and reason), through Arctic Shift's ids
endpoint and through praw's ``info``."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

import manifests
from harvest import cli
from harvest.reddit.recheck import recheck
from harvest.reddit.sources import SourceOptions
from manifests import schema
from tests.fixtures.http import Request, json_reply
from tests.harvest.conftest import ENV, RedditWorld, post
from tests.harvest.reddit.test_reddit import collect


def posts() -> list[dict]:
    return [post("keep1"), post("gone1"), post("mod01"), post("gal01", "gallery"), post("auth1")]


def harvested(world: RedditWorld, manifest: Path, env: dict) -> dict[str, dict]:
    """The first run; returns the source's posts by id, for the test to change."""
    listed = posts()
    world.listing("Doom", "hot", listed)
    world.images(listed)
    collect(world, manifest, env=env)
    return {p["id"]: copy.deepcopy(p) for p in listed}


def change(source: dict[str, dict]) -> None:
    """Between the runs: one post deleted outright, one removed by moderators, one deleted by its
    author, and one gallery item taken out of its gallery."""
    del source["gone1"]
    source["mod01"]["removed_by_category"] = "moderator"
    source["auth1"].update(author="[deleted]", selftext="[deleted]")
    gallery = source["gal01"]
    gallery["gallery_data"]["items"] = gallery["gallery_data"]["items"][1:]


def serve_ids(world: RedditWorld, source: dict[str, dict]) -> None:
    def arctic(request: Request) -> object:
        ids = request.query["ids"].split(",")
        return json_reply({"data": [source[i] for i in ids if i in source]})

    def info(request: Request) -> object:
        names = request.query["id"].split(",")
        return json_reply({"kind": "Listing", "data": {"after": None, "children": [
            {"kind": "t3", "data": source[n[3:]]} for n in names if n[3:] in source]}})
    world.web.route("/api/posts/ids", arctic)
    world.web.route("/api/info/", info)


def check_marks(manifest: Path) -> None:
    frame = manifests.read(manifest).set_index(schema.ORIGIN)
    removed = frame[frame[schema.STATUS] == schema.REMOVED]
    reasons = {(r[schema.POST_ID], r[schema.ERROR].split(":")[0]) for _, r in removed.iterrows()
               if not pd.isna(r[schema.REMOVED_AT])}
    assert reasons == {("gone1", "deleted"), ("mod01", "removed"), ("auth1", "deleted"),
                       ("gal01", "media gone")}
    (moderated,) = removed.loc[removed[schema.POST_ID] == "mod01", schema.ERROR]
    assert "removed_by_category=moderator" in moderated
    gallery = frame[frame[schema.POST_ID] == "gal01"].sort_values(schema.GALLERY_INDEX)
    assert gallery[schema.STATUS].tolist() == ["removed", "removed", "ok"]  # item 1 failed at harvest
    ok = frame[frame[schema.STATUS] == schema.OK]
    assert set(ok[schema.POST_ID]) == {"keep1", "gal01"} and ok[schema.REMOVED_AT].isna().all()
    assert all((manifest.parent / p).exists() for p in frame[schema.PATH].dropna())  # files stay


def test_recheck_through_arctic_shift_marks_deleted_and_removed_posts(world: RedditWorld,
                                                                      tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    source = harvested(world, manifest, ENV)
    change(source)
    serve_ids(world, source)
    opts = SourceOptions(("Doom",), arctic_url=world.web.base)
    result = recheck(manifest, opts, world.fetch, env={})
    assert result.source == "arctic-shift" and result.posts == 5 and result.marked == 4
    (ask,) = [r for r in world.web.log if r.path == "/api/posts/ids"]
    assert sorted(ask.query["ids"].split(",")) == sorted(["keep1", "gone1", "mod01", "gal01", "auth1"])
    check_marks(manifest)
    entry = manifests.lineage.entries(manifest)[-1]
    assert entry["details"]["recheck"]["rows_removed"] == 4
    again = recheck(manifest, opts, world.fetch, env={})  # removed rows are not asked about again
    assert again.posts == 2 and again.marked == 0


def test_recheck_through_praw_info_by_fullname(world: RedditWorld, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.csv"
    source = harvested(world, manifest, ENV)
    change(source)
    serve_ids(world, source)
    argv = ["reddit", "--recheck", "-m", str(manifest), "--oauth-url", world.web.base,
            "--reddit-url", world.web.base, "--allow-private", "--json"]
    with pytest.MonkeyPatch.context() as env:
        for key, value in ENV.items():
            env.setenv(key, value)
        with pytest.raises(SystemExit) as code:
            cli.main(argv)
    assert code.value.code == 0
    out = capsys.readouterr().out
    assert '"source": "praw"' in out and '"rows_removed": 4' in out
    (ask,) = [r for r in world.web.log if r.path == "/api/info/"]
    assert sorted(ask.query["id"].split(",")) == sorted(
        f"t3_{i}" for i in ["keep1", "gone1", "mod01", "gal01", "auth1"])
    check_marks(manifest)
