"""Recipe 1, Doom vs Animal Crossing (docs/recipes/1-doom-vs-animal-crossing.md): July 2020 from Arctic
Shift without keys, reposts across the two subreddits, split by author, a binary model."""

from __future__ import annotations

from pathlib import Path

import pytest

import manifests
from manifests import schema
from tests.fixtures.models import ARCH
from tests.fixtures.recipes import SUBREDDITS, reddit_world
from tests.harvest.conftest import ENV, RedditWorld
from tests.recipes.conftest import QUICK_TRAIN, assert_exported, assert_groups_apart, metrics, ok_rows

pytestmark = pytest.mark.slow


def test_doom_vs_animal_crossing_recipe(world: RedditWorld, tmp_path: Path, cli,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV:  # no keys: the recipe runs on the public archive
        monkeypatch.delenv(key, raising=False)
    posts = reddit_world(world, per_sub=12, reposts=2)
    manifest = tmp_path / "doom" / "manifest.csv"
    mirrors = [f"--mirror={prefix}={url}" for prefix, url in world.fetch.mirrors]
    mirrors.append("--allow-private")  # the fake Arctic Shift and image hosts are on 127.0.0.1
    harvested = cli("harvest", "reddit", "r/Doom", "r/AnimalCrossing", "--after", "2020-07-01",
                    "--before", "2020-08-01", "--top", "1000", "-m", str(manifest),
                    "--arctic-url", world.web.base, *mirrors)
    assert "arctic-shift" in harvested.err
    rows = ok_rows(manifest)
    assert len(rows) == len(posts) and set(rows[schema.LABEL]) == set(SUBREDDITS)

    dedupe = cli("curate", "dedupe", str(manifest), "--json").json()
    assert dedupe["clusters_with_mixed_labels"] == 4  # two reposts each way: memes cross the subreddits
    frame = manifests.read(manifest)
    reposted = frame[frame[schema.DUP_CONFLICT].notna()]  # another label: left ok, with a note
    assert len(reposted) == 4 and (reposted[schema.STATUS] == schema.OK).all()
    shown = cli("curate", "review", str(manifest), "--check", "--json").json()  # the app, not served
    assert shown["mixed_clusters"] == dedupe["clusters_with_mixed_labels"]

    cli("curate", "split", str(manifest), "--group-by", "author", "--ratios", "0.7,0.15,0.15")
    rows = assert_groups_apart(manifest, schema.AUTHOR)
    assert (rows.groupby(schema.DUP_CLUSTER)[schema.SPLIT].nunique() == 1).all()  # reposts on one side
    assert (rows.groupby(schema.POST_ID)[schema.SPLIT].nunique() == 1).all()

    run = tmp_path / "runs" / "doom"
    cli("train", str(manifest), "--binary", "--arch", ARCH, "--img-size", "32", "--out", str(run),
        *QUICK_TRAIN)
    result = metrics(run)
    evaluated = result.get("test") or result["val"]
    assert set(evaluated["groups"][schema.SUBREDDIT]) <= set(SUBREDDITS)
    assert set(evaluated["groups"][schema.POST_ID]) <= set(rows[schema.POST_ID])
    predictions = (run / "predictions.csv").read_text()
    assert "p_Doom" in predictions.splitlines()[0] or "p_AnimalCrossing" in predictions.splitlines()[0]

    cli("curate", "export", str(manifest), str(tmp_path / "export"), "--format", "imagefolder")
    assert_exported(manifest, tmp_path / "export", "imagefolder")
