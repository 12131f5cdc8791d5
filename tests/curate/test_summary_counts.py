"""Issue 26, item 5: the numbers in every summary come from what was written.

Per stage that changes a manifest, through the real CLI (``--json``): the summary's counts equal the
difference between the manifest before and after the run. The dedupe case is the one the demo got
wrong: a near-copy labelled unlike its keeper is left ok (a label conflict), and was counted as
"marked duplicate" on a manifest that then held no duplicate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import manifests
from curate import cli
from manifests import schema
from tests.curate.conftest import Dataset


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--json"])
    out = capsys.readouterr()
    assert int(exc.value.code) == 0, out.err
    return int(exc.value.code), json.loads(out.out)


def by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index(frame[schema.SOURCE].fillna("") + "|" + frame[schema.ORIGIN].fillna(""))


def statuses(path: Path) -> pd.Series:
    return by_key(manifests.read(path))[schema.STATUS]


def test_dedupe_counts_what_it_marked(dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    # the fixture's dup.jpg is a near-copy of cat 1 labelled dog, recorded as its duplicate: dedupe
    # leaves it ok (a label conflict), so the manifest ends with no duplicate at all
    before = statuses(dataset.manifest)
    assert (before == schema.DUPLICATE).sum() == 1
    _, data = run(["dedupe", str(dataset.manifest)], capsys)
    after = statuses(dataset.manifest)
    now, was = after == schema.DUPLICATE, before.reindex(after.index) == schema.DUPLICATE
    assert data["marked_duplicate"] == int(now.sum())
    assert data["newly_marked"] == int((now & ~was).sum()) and data["unmarked"] == int((was & ~now).sum())
    assert data["conflicts"] >= 1 and data["unmarked"] == 1
    _, again = run(["dedupe", str(dataset.manifest)], capsys)  # a rerun changes nothing, and says so
    assert again["newly_marked"] == again["unmarked"] == 0
    assert again["marked_duplicate"] == int((statuses(dataset.manifest) == schema.DUPLICATE).sum())


def test_split_counts_what_it_assigned(dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    with manifests.update(dataset.manifest) as tx:
        ok = tx.frame[schema.STATUS] == schema.OK
        tx.frame.loc[ok & (tx.frame[schema.SPLIT] == "test"), schema.SPLIT] = pd.NA
    before = by_key(manifests.read(dataset.manifest))[schema.SPLIT]
    _, data = run(["split", str(dataset.manifest), "--group-by", "street"], capsys)
    after = by_key(manifests.read(dataset.manifest))
    ok_after = after[after[schema.STATUS] == schema.OK]
    set_now = before.reindex(ok_after.index).isna() & ok_after[schema.SPLIT].notna()
    assert data["assigned"] == int(set_now.sum()) and data["kept"] == int(before.reindex(ok_after.index)
                                                                           .notna().sum())


def test_balance_counts_what_it_capped(dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    before = statuses(dataset.manifest)
    _, data = run(["balance", str(dataset.manifest), "--by", "label", "--max-per-cell", "6",
                   "--strategy", "cap"], capsys)
    after = statuses(dataset.manifest)
    capped = (after == schema.OVER_CAP) & (before.reindex(after.index) != schema.OVER_CAP)
    assert data["over_cap"] == int(capped.sum()) > 0


def test_augment_counts_what_it_added(dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    rows = len(manifests.read(dataset.manifest))
    _, data = run(["augment", str(dataset.manifest), "--by", "source", "--to-share", "0.4"], capsys)
    added = len(manifests.read(dataset.manifest)) - rows
    assert sum(c["added"] if isinstance(c, dict) else c for c in _copies(data)) == added > 0
    assert data["changes"]["added"] == added


def _copies(data: dict) -> list:
    copies = data["copies"]
    return list(copies.values()) if isinstance(copies, dict) else list(copies)
