"""``curate balance``: count tables and thin cells, caps chosen by each preference, weights, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import manifests
from curate import cli
from curate.balance import BalanceOptions, balance, cell_counts, thin_cells, weights
from manifests import InputError, UsageError, groups, schema

STREET = "street"  # a pattern field, not a schema column: group columns are declared


def frame_of(rows: list[dict]) -> pd.DataFrame:
    for i, row in enumerate(rows):
        row.setdefault(schema.SHA256, f"{i:064x}")
        row.setdefault(schema.STATUS, schema.OK)
    return manifests.from_records(rows)


def toon(skew: int = 20) -> pd.DataFrame:
    """4 suits x 3 streets, 6 each; ``dg`` holds ``skew`` Bossbots and MML only 3 Lawbots."""
    rows = []
    for street in ("ttc", "dg", "mml"):
        for suit in ("bossbot", "cashbot", "lawbot", "sellbot"):
            special = {("dg", "bossbot"): skew, ("mml", "lawbot"): 3}
            n = special.get((street, suit), 6)
            rows += [{schema.LABEL: suit, STREET: street} for _ in range(n)]
    rows.append({schema.LABEL: "bossbot", STREET: "ttc", schema.STATUS: "corrupt",
                 schema.SOURCE: "folder", schema.ORIGIN: "x.png", schema.SHA256: None})
    return frame_of(rows)


def test_count_table_and_thin_cells() -> None:
    frame = toon()
    counts = cell_counts(frame[frame[schema.STATUS] == schema.OK], (schema.LABEL, STREET))
    assert counts[("bossbot", "dg")] == 20 and counts[("bossbot", "ttc")] == 6  # the corrupt row is out
    assert thin_cells(counts, 5) == ["lawbot x mml: 3 < 5"]
    # A combination that never occurs is a cell with 0 rows, named first.
    sparse = frame[~((frame[schema.LABEL] == "cashbot") & (frame[STREET] == "ttc"))]
    counts = cell_counts(sparse[sparse[schema.STATUS] == schema.OK], (schema.LABEL, STREET))
    assert thin_cells(counts, 5)[0] == "cashbot x ttc: 0 < 5"


def test_weights_are_inverse_cell_frequency_with_mean_one() -> None:
    frame = toon()
    out, report = balance(frame, BalanceOptions(by=(schema.LABEL, STREET)))
    ok = out[out[schema.STATUS] == schema.OK]
    assert ok[schema.WEIGHT].mean() == pytest.approx(1.0)
    w = ok.groupby([schema.LABEL, STREET])[schema.WEIGHT].first()
    assert w[("bossbot", "dg")] * 20 == pytest.approx(w[("cashbot", "ttc")] * 6)
    assert w[("lawbot", "mml")] * 3 == pytest.approx(w[("cashbot", "ttc")] * 6)
    assert out[out[schema.STATUS] != schema.OK][schema.WEIGHT].isna().all()
    assert report.weights == (round(w.min(), 4), round(w.max(), 4))
    assert (out[schema.STATUS] == schema.OK).sum() == (frame[schema.STATUS] == schema.OK).sum()  # no cap


def test_cap_keeps_the_highest_scores_and_resolutions() -> None:
    rows = [{schema.LABEL: "doom", schema.SCORE: s, schema.WIDTH: 100 + s, schema.HEIGHT: 100}
            for s in (5, 90, 12, 70, 33, 1)]
    rows += [{schema.LABEL: "ac", schema.SCORE: s, schema.WIDTH: 1000 - s, schema.HEIGHT: 100}
             for s in (8, 3)]
    frame = frame_of(rows)
    out, report = balance(frame, BalanceOptions(max_per_cell=3, prefer="score"))
    kept = out[out[schema.STATUS] == schema.OK]
    assert sorted(kept[kept[schema.LABEL] == "doom"][schema.SCORE]) == [33, 70, 90]
    assert report.capped == {"doom": 3} and len(kept[kept[schema.LABEL] == "ac"]) == 2
    assert out[out[schema.STATUS] == schema.OVER_CAP][schema.ERROR].str.contains("cap of 3").all()
    assert out[out[schema.STATUS] == schema.OVER_CAP][schema.WEIGHT].isna().all()
    frame[schema.WIDTH] = pd.array([100 + (s * 37) % 11 for s in range(8)], dtype="Int64")
    out, _ = balance(frame, BalanceOptions(max_per_cell=2, prefer="resolution"))
    kept = out[(out[schema.STATUS] == schema.OK) & (out[schema.LABEL] == "doom")]
    doom = frame[frame[schema.LABEL] == "doom"]
    assert sorted(kept[schema.WIDTH]) == sorted(doom[schema.WIDTH])[-2:]


def test_random_cap_depends_on_seed_not_on_file_order() -> None:
    frame = frame_of([{schema.LABEL: "a"} for _ in range(40)])
    options = BalanceOptions(max_per_cell=10, prefer="random", seed=3)
    kept = set(balance(frame, options)[0].query("status == 'ok'")[schema.SHA256])
    shuffled = frame.iloc[::-1].reset_index(drop=True)
    assert set(balance(shuffled, options)[0].query("status == 'ok'")[schema.SHA256]) == kept
    assert kept != set(frame[schema.SHA256].iloc[:10])  # not the first rows of the file
    other = BalanceOptions(max_per_cell=10, prefer="random", seed=4)
    assert set(balance(frame, other)[0].query("status == 'ok'")[schema.SHA256]) != kept


def test_spread_takes_every_scene_then_spreads_in_time() -> None:
    rows = [{schema.LABEL: "ghibli", schema.SCENE: f"totoro:{s}", schema.TIME: float(t)}
            for s, length in enumerate((40, 3, 2, 1)) for t in range(length)]
    out, _ = balance(frame_of(rows), BalanceOptions(max_per_cell=4, prefer="spread"))
    kept = out[out[schema.STATUS] == schema.OK]
    assert sorted(kept[schema.SCENE]) == ["totoro:0", "totoro:1", "totoro:2", "totoro:3"]
    one = frame_of([{schema.LABEL: "ghibli", schema.SCENE: "s", schema.TIME: float(t)} for t in range(16)])
    out, _ = balance(one, BalanceOptions(max_per_cell=4, prefer="spread"))
    times = sorted(out[out[schema.STATUS] == schema.OK][schema.TIME])
    assert times == [0.0, 4.0, 8.0, 12.0]  # evenly spaced, not the first four frames


def test_rerun_reconsiders_earlier_caps_and_checks_options() -> None:
    frame = toon()
    capped, report = balance(frame, BalanceOptions(by=(schema.LABEL,), max_per_cell=20))
    assert report.capped == {"bossbot": 12}  # bossbot: 6 + 20 + 6 = 32 ok rows, capped at 20
    looser, report = balance(capped, BalanceOptions(by=(schema.LABEL,), max_per_cell=30))
    assert report.capped == {"bossbot": 2}
    assert (looser[schema.STATUS] == schema.OVER_CAP).sum() == 2
    with pytest.raises(UsageError, match="needs --max-per-cell"):
        balance(frame, BalanceOptions(strategy="cap"))
    with pytest.raises(InputError, match="--prefer score needs"):
        balance(frame, BalanceOptions(max_per_cell=5, prefer="score"))
    with pytest.raises(InputError, match="no column 'scene'"):
        balance(frame, BalanceOptions(by=(schema.SCENE,)))


def test_weights_ignore_rows_that_are_not_ok() -> None:
    rows = [{schema.LABEL: lab} for lab in "aaab"] + [{schema.LABEL: "b", schema.STATUS: "corrupt"}]
    frame = frame_of(rows)
    w = weights(frame, (schema.LABEL,))
    assert np.allclose(w.iloc[:4].astype(float), [4 / 6, 4 / 6, 4 / 6, 2.0]) and pd.isna(w.iloc[4])


def test_balance_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "manifest.csv"
    manifests.write(toon(), path)
    plot = tmp_path / "balance.png"
    with pytest.raises(SystemExit) as exc:
        cli.main(["balance", str(path), "--by", "label,street", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "lawbot x mml: 3 < 5" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000
    assert manifests.read(path)[schema.WEIGHT].notna().sum() == len(toon()) - 1
    with pytest.raises(SystemExit) as exc:
        cli.main(["balance", str(path), "--by", "label,street", "--max-per-cell", "10", "--dry-run",
                  "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["over_cap"] == 10 and result["capped"] == {"bossbot x dg": 10}
    assert (manifests.read(path)[schema.STATUS] != schema.OVER_CAP).all()  # dry run: nothing written
    with pytest.raises(SystemExit) as exc:
        cli.main(["balance", str(path), "--by", "label,street", "--max-per-cell", "10", "--seed", "7"])
    capsys.readouterr()
    assert (manifests.read(path)[schema.STATUS] == schema.OVER_CAP).sum() == 10
    details = manifests.lineage_entries(path)[-1]["details"]
    assert details["seed"] == 7 and details["max_per_cell"] == 10 and details["over_cap"] == 10
    with pytest.raises(SystemExit) as exc:
        cli.main(["balance", str(path), "--strategy", "nope"])
    assert exc.value.code == 2 and "--strategy is one of" in capsys.readouterr().err


def test_spread_goes_over_a_recorded_custom_group_column() -> None:
    rows = [{schema.LABEL: "cog", "site": f"site{s}", schema.TIME: float(t)}
            for s, length in enumerate((40, 3, 2, 1)) for t in range(length)]
    frame = frame_of(rows)
    unknown, _ = balance(frame, BalanceOptions(max_per_cell=4, prefer="spread"))
    assert unknown[unknown[schema.STATUS] == schema.OK]["site"].nunique() < 4  # only spread in time
    frame.attrs[groups.ATTR] = ["site"]  # what manifests.read attaches once site is recorded
    out, _ = balance(frame, BalanceOptions(max_per_cell=4, prefer="spread"))
    assert sorted(out[out[schema.STATUS] == schema.OK]["site"]) == ["site0", "site1", "site2", "site3"]
