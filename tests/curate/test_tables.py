"""Readable tables: numbers in numeric order, top N plus "other", terminal fitting, plurals, and the
wide ``curate balance`` table that used to collapse into an empty grid."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import manifests
from curate import cli
from curate.tables import crosstab, fit, natural_sorted, plural, top_columns
from manifests import schema


def test_natural_order_sorts_numbers_as_numbers() -> None:
    assert natural_sorted(["10", "2", "1", "b", "a"]) == ["1", "2", "10", "a", "b"]
    assert natural_sorted(["scene 10", "scene 2", "Scene 1"]) == ["Scene 1", "scene 2", "scene 10"]
    assert natural_sorted([3.5, 10, 2]) == [2, 3.5, 10]


def test_plural() -> None:
    assert (plural(1, "cluster"), plural(0, "cluster"), plural(2, "cluster")) == \
        ("1 cluster", "0 clusters", "2 clusters")


def test_top_columns_keeps_the_largest_and_sums_the_rest() -> None:
    table = pd.DataFrame({"1": [5, 0], "2": [1, 1], "10": [9, 9], "3": [0, 1]}, index=["a", "b"])
    top = top_columns(table, 2)
    assert list(top.columns) == ["1", "10", "other (2)"]  # the two largest, in numeric order
    assert top.loc["a"].tolist() == [5, 9, 1] and top.to_numpy().sum() == table.to_numpy().sum()


def test_crosstab_and_fit() -> None:
    frame = pd.DataFrame({"label": list("ab" * 30), "scene": [str(i % 45) for i in range(60)]})
    table = crosstab(frame, ["label"], "scene")
    assert table.shape == (2, 45) and list(table.columns[:3]) == ["0", "1", "2"]
    shown, note = fit(table, max_columns=6, max_rows=10)
    assert shown.shape == (10, 2) and "transposed" in note and shown.to_numpy().sum() == 60
    assert shown.index[-1] == "other (36)"


def test_wide_balance_table_stays_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    rows = [{schema.SHA256: f"{i:064x}", schema.LABEL: "abc"[i % 3], schema.STATUS: schema.OK,
             schema.SCENE: f"film:{(i * 7) % 45:04d}"} for i in range(900)]
    path = tmp_path / "m.csv"
    manifests.write(manifests.from_records(rows), path)
    with pytest.raises(SystemExit) as exc:
        cli.main(["balance", str(path), "--by", "label,scene", "--dry-run"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "film:0000" in out and "other (" in out and "curate report" in out
    header = next(line for line in lines if "┃" in line)
    assert [c.strip() for c in header.split("┃")[1:-1]] == ["scene", "a", "b", "c"]
    assert "ok rows per label x scene" in lines[0]  # the title on one line, not wrapped mid-word
