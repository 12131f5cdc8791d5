"""Recipe 2, Ghibli vs Disney (docs/recipes/2-ghibli-disney.md): frames of letterboxed films with the
bars cropped, fan art from an image search, split by film and artist (then `curate check`), a model
whose review page shows Grad-CAM heatmaps."""

from __future__ import annotations

from pathlib import Path

import pytest

import manifests
from manifests import schema
from tests.fixtures.http import FakeWeb
from tests.fixtures.models import ARCH
from tests.fixtures.recipes import make_films
from tests.fixtures.search import SearchWorld
from tests.recipes.conftest import QUICK_TRAIN, assert_exported, assert_groups_apart, metrics, ok_rows

pytestmark = pytest.mark.slow


def test_ghibli_disney_recipe(tmp_path: Path, cli) -> None:
    films = make_films(tmp_path)
    manifest = tmp_path / "studios" / "manifest.csv"
    for studio, paths in films.items():
        cli("harvest", "frames", *map(str, paths), "--every", "4", "--label", studio, "-m", str(manifest),
            "--workers", "1")
    rows = ok_rows(manifest)
    assert set(rows[schema.LABEL]) == {"ghibli", "disney"}
    assert (rows[schema.HEIGHT] == 90).all() and rows["crop"].str.startswith("160:90:0:").all()  # bars cut
    assert rows.groupby(schema.VIDEO)[schema.SCENE].nunique().eq(3).all()  # three shots per film

    with FakeWeb() as web:  # fan art and sketches from a local engine in Openverse's shape
        engine = SearchWorld(web)
        for query in ("totoro fanart", "totoro sketch drawing", "tarzan fanart", "tarzan sketch drawing"):
            engine.add(query, 4, size=(96, 72))
        engine.serve()
        for studio, film in (("ghibli", "totoro"), ("disney", "tarzan")):
            cli("harvest", "search", f"{film} fanart", f"{film} sketch drawing", "--label", studio,
                "-m", str(manifest), "--engine-url", web.base, "--api-interval", "0", "--allow-private")
    searched = ok_rows(manifest).dropna(subset=["creator"])
    assert len(searched) == 16 and searched[schema.SCENE].isna().all()
    shown = cli("curate", "review", str(manifest), "--check", "--json").json()  # the app, not served
    assert shown["images"] == len(manifests.read(manifest)[schema.PATH].dropna())
    assert shown["classes"] == ["disney", "ghibli"]

    cli("curate", "dedupe", str(manifest))
    cli("curate", "balance", str(manifest), "--by", "label,source")
    cli("curate", "augment", str(manifest), "--by", "source", "--to-share", "0.4")
    # no film and no artist on two sides; two films a studio fill two splits, not three
    cli("curate", "split", str(manifest), "--group-by", "video,creator", "--ratios", "0.5,0.5")
    cli("curate", "check", str(manifest))  # every declared group column (video, scene, creator) apart
    assert_groups_apart(manifest, "creator")
    assert_groups_apart(manifest, schema.VIDEO)
    rows = assert_groups_apart(manifest, schema.SCENE)
    copies = rows.dropna(subset=[schema.DERIVED_FROM])
    assert len(copies) > 0  # 8 fan-art rows per studio are under 40% of its frames and fan art
    split_of = rows.set_index(schema.SHA256)[schema.SPLIT]
    assert (copies[schema.SPLIT].to_numpy() == split_of.loc[copies[schema.DERIVED_FROM]].to_numpy()).all()

    run = tmp_path / "runs" / "studios"
    cli("train", str(manifest), "--balanced", "--arch", ARCH, "--img-size", "32", "--out", str(run),
        *QUICK_TRAIN)
    result = metrics(run)
    evaluated = result.get("test") or result["val"]
    assert set(evaluated["groups"][schema.SCENE]) - {"(none)"} <= set(rows[schema.SCENE])  # (none): fan art
    assert set(evaluated["groups"][schema.SOURCE]) <= {"frames", "search:openverse"}
    review = (run / "review.html").read_text()
    assert "Grad-CAM" in review or "grad-cam" in review.lower()

    cli("curate", "export", str(manifest), str(tmp_path / "export"), "--format", "hf")
    assert_exported(manifest, tmp_path / "export", "hf")
