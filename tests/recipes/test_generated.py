"""Recipe 5, generated images (docs/recipes/5-generated-16px.md): 16x16 images in seven classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests import schema
from tests.fixtures.models import ARCH
from tests.fixtures.recipes import TINY_CLASSES, make_tiny_classes
from tests.recipes.conftest import QUICK_TRAIN, assert_exported, metrics, ok_rows

pytestmark = pytest.mark.slow


def test_generated_16px_recipe(tmp_path: Path, cli) -> None:
    folder = make_tiny_classes(tmp_path)
    manifest = tmp_path / "tiny" / "manifest.csv"
    cli("harvest", "folder", str(folder), "-m", str(manifest))
    rows = ok_rows(manifest)
    assert (rows[schema.WIDTH] == 16).all() and set(rows[schema.LABEL]) == set(TINY_CLASSES)

    cli("curate", "split", str(manifest))  # no group column: rows are independent, a random split is fine
    run = tmp_path / "runs" / "tiny"
    cli("train", str(manifest), "--arch", ARCH, "--img-size", "16", "--out", str(run), *QUICK_TRAIN)
    result = metrics(run)
    per_class = result["test"]["per_class"]
    assert set(per_class) == set(TINY_CLASSES)
    assert sum(v["support"] for v in per_class.values()) == result["test"]["n"] > 0
    assert len(result["test"]["confusion"]) == 7

    cli("curate", "export", str(manifest), str(tmp_path / "export"), "--format", "hf")
    assert_exported(manifest, tmp_path / "export", "hf")
