"""Recipe 4, ToonVision (docs/recipes/4-toonvision.md): screenshots on six streets, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests import schema
from tests.fixtures.models import ARCH
from tests.fixtures.recipes import make_streets
from tests.recipes.conftest import QUICK_TRAIN, assert_exported, assert_groups_apart, metrics, ok_rows

STREET = "street"  # collector metadata from the --pattern, not a schema column
pytestmark = pytest.mark.slow


def test_toonvision_recipe(tmp_path: Path, cli) -> None:
    shots = make_streets(tmp_path)
    manifest = tmp_path / "toon" / "manifest.csv"
    cli("harvest", "folder", str(shots), "-m", str(manifest),
        "--pattern", r"{street}/cog_{suit}_{entity}_{n:\d+}.png", "--label-field", "suit")
    rows = ok_rows(manifest)
    assert set(rows[STREET]) == {"ttc", "dd", "dg", "mml", "tb", "ddl"}
    assert set(rows[schema.LABEL]) == {"bossbot", "lawbot", "cashbot", "sellbot"}

    cli("curate", "dedupe", str(manifest), "--threshold", "4")
    capped = cli("curate", "balance", str(manifest), "--by", "label,street", "--max-per-cell", "4",
                 "--json").json()
    cells = ok_rows(manifest).groupby([schema.LABEL, STREET]).size()
    assert cells.max() <= 4 and capped is not None  # dg's 9 Bossbots are capped at 4

    refused = cli("curate", "split", str(manifest), expect=2)  # a random split would leak streets
    assert "street" in refused.err
    cli("curate", "split", str(manifest), "--ratios", "0.6,0.2,0.2", "--group-by", "street",
        "--stratify", "entity")
    rows = assert_groups_apart(manifest, STREET)
    assert set(rows[schema.SPLIT]) == {"train", "val", "test"}

    run = tmp_path / "runs" / "toon"
    cli("train", str(manifest), "--arch", ARCH, "--img-size", "32", "--out", str(run), *QUICK_TRAIN)
    test = metrics(run)["test"]
    assert set(test["per_class"]) == {"bossbot", "lawbot", "cashbot", "sellbot"}
    assert all({"precision", "recall", "f1", "support"} <= set(v) for v in test["per_class"].values())
    test_streets = set(rows.loc[rows[schema.SPLIT] == "test", STREET])
    assert set(test["groups"][STREET]) == test_streets
    assert "least confident" in (run / "review.html").read_text().lower()

    cli("curate", "report", str(manifest), "-o", str(tmp_path / "toon" / "report.html"))
    assert "street" in (tmp_path / "toon" / "report.html").read_text()
    cli("curate", "export", str(manifest), str(tmp_path / "export"), "--format", "imagefolder")
    assert_exported(manifest, tmp_path / "export", "imagefolder")
