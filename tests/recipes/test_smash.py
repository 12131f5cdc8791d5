"""Recipe 3, Smash Bros (docs/recipes/3-smash-bros.md): captures with fields in their names, split by
stage so no stage is seen in training and evaluation both."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests import schema
from tests.fixtures.models import ARCH
from tests.fixtures.recipes import CHARACTERS, STAGES, make_captures
from tests.recipes.conftest import QUICK_TRAIN, assert_exported, assert_groups_apart, metrics

pytestmark = pytest.mark.slow


def test_smash_recipe(tmp_path: Path, cli) -> None:
    captures = make_captures(tmp_path)
    manifest = tmp_path / "smash" / "manifest.csv"
    cli("harvest", "folder", str(captures), "-m", str(manifest), "--copy", "--label-field", "character",
        "--pattern", "{character}_{color}_{stage}_{orientation}_bg_on_{num}.jpg")
    cli("curate", "split", str(manifest), "--group-by", "stage", "--ratios", "0.5,0.25,0.25")
    rows = assert_groups_apart(manifest, "stage")
    assert set(rows[schema.LABEL]) == set(CHARACTERS) and set(rows["stage"]) == set(STAGES)
    assert set(rows["orientation"]) == {"left", "right"} and set(rows["color"]) == {"p1", "p2"}
    assert rows[schema.PATH].str.startswith("images/").all()  # --copy: the dataset owns its images

    run = tmp_path / "runs" / "smash"
    # the frozen-feature ("bottleneck") method: the head trains on cached backbone features
    cli("train", str(manifest), "--features-only", "--arch", ARCH, "--img-size", "32",
        "--out", str(run), *QUICK_TRAIN)
    assert any((manifest.parent / ".cache" / "train" / "features").iterdir())  # features were cached
    test = metrics(run)["test"]
    assert set(test["per_class"]) == set(CHARACTERS)
    test_stages = set(rows.loc[rows[schema.SPLIT] == "test", "stage"])
    assert len(test_stages) == 1 and test["n"] == (rows[schema.SPLIT] == "test").sum()

    predicted = cli("train", "predict", str(run / "model.pt"), str(captures), "--json").json()
    assert len(predicted) == len(rows)

    cli("curate", "export", str(manifest), str(tmp_path / "export"), "--format", "imagefolder")
    assert_exported(manifest, tmp_path / "export", "imagefolder")
