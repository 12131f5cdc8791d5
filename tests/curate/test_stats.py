"""``curate stats``: counts by status and by columns, and the CLI around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import manifests
from curate import cli
from curate.stats import stats
from manifests import schema


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    rows = [{schema.SHA256: f"{i:064x}", schema.LABEL: "ab"[i % 2], schema.STATUS: "ok",
             "street": "ttc" if i < 5 else None} for i in range(8)]
    rows.append({schema.SOURCE: "x", schema.ORIGIN: "u", schema.STATUS: "corrupt"})
    path = tmp_path / "m.csv"
    manifests.write(manifests.from_records(rows), path)
    return path


def test_stats_counts(manifest: Path) -> None:
    result = stats(manifests.read(manifest), ["label", "street"])
    assert result["rows"] == 9 and result["ok"] == 8
    assert result["status"] == {"corrupt": 1, "ok": 8}
    assert result["by"]["label"] == {"a": 4, "b": 4}
    assert result["by"]["street"] == {"(missing)": 3, "ttc": 5}


def test_stats_cli(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["stats", str(manifest), "--by", "label", "--json"])
    assert exc.value.code == 0
    assert json.loads(capsys.readouterr().out)["by"]["label"] == {"a": 4, "b": 4}
    with pytest.raises(SystemExit) as exc:
        cli.main(["stats", str(manifest), "--by", "nope"])
    assert exc.value.code == 4 and "no column 'nope'" in capsys.readouterr().err


def test_stats_by_two_columns_is_a_crosstab(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = stats(manifests.read(manifest), ["label", "street"])
    assert result["crosstab"]["counts"] == {"a": {"(missing)": 1, "ttc": 3}, "b": {"(missing)": 2, "ttc": 2}}
    with pytest.raises(SystemExit):
        cli.main(["stats", str(manifest), "--by", "label,street"])
    out = capsys.readouterr().out
    assert "ok rows by label (down) and street (across)" in out
    row_a = next(line for line in out.splitlines() if line.startswith("│ a "))
    assert [c.strip() for c in row_a.split("│")[1:-1]] == ["a", "1", "3"]
