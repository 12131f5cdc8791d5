"""``train --folds``: grouped folds, the BatchNorm-safe batch size and the out-of-fold predictions file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import manifests
from manifests import InputError, UsageError, schema
from tests.fixtures.models import ARCH
from tests.fixtures.noisy import make_noisy
from train.folds import assign_folds, group_ids, out_of_fold, safe_batch
from train.runner import TrainOptions


def test_rows_sharing_any_group_value_share_a_fold() -> None:
    scene = ["s1", "s1", "s2", "s2", "s3", None, None, "s4", "s5", "s5", "s6", "s6"]
    dup = [None, None, "d", None, "d"] + [None] * 6 + ["x"]
    frame = pd.DataFrame({schema.LABEL: list("abababababab"), schema.SCENE: scene, schema.DUP_CLUSTER: dup})
    ids = group_ids(frame, (schema.SCENE, schema.DUP_CLUSTER))
    assert ids[0] == ids[1] and ids[2] == ids[3] == ids[4]  # s2 joins s3 through dup cluster d
    assert ids[5] != ids[6]  # rows without a value are groups of their own
    fold = assign_folds(frame, 3, (schema.SCENE, schema.DUP_CLUSTER), seed=1)
    for gid in np.unique(ids):
        assert len(set(fold[ids == gid])) == 1
    assert set(fold) == {0, 1, 2}
    with pytest.raises(UsageError, match="cannot fill"):
        assign_folds(frame.assign(**{schema.SCENE: "one"}), 3, (schema.SCENE,))
    with pytest.raises(UsageError, match="at least 2"):
        assign_folds(frame, 1, ())


def test_safe_batch_never_leaves_a_single_image() -> None:
    for n in range(2, 200):
        for batch in (2, 8, 16, 32, 64):
            b = safe_batch(n, batch)
            assert 2 <= b <= max(n, 2) and n % b != 1, (n, batch, b)
            if batch <= n and n % batch != 1:
                assert b == batch  # kept when it is safe
    with pytest.raises(InputError):
        safe_batch(1, 8)


@pytest.mark.slow
def test_out_of_fold_scores_every_row_once_with_a_model_that_never_saw_it(tmp_path: Path) -> None:
    manifest = make_noisy(tmp_path / "data", per_class=12, off_topic_n=1)  # 37 rows
    opts = TrainOptions(arch=ARCH, weights="none", epochs=1, freeze_epochs=0, img_size=32,
                        batch_size=9, lr=1e-2, workers=0, device="cpu", out=tmp_path / "runs")
    path = out_of_fold(manifest, opts, k=2, group_by=(schema.SCENE,))
    assert path == manifest.with_name("manifest.oof.csv")
    table = pd.read_csv(path)
    frame = manifests.read(manifest)
    assert sorted(table[schema.SHA256]) == sorted(frame[schema.SHA256])
    probs = table.filter(like="p_")
    assert list(probs.columns) == ["p_circle", "p_square", "p_stripes"]
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    scenes = frame.set_index(schema.SHA256).loc[table[schema.SHA256], schema.SCENE].to_numpy()
    assert (pd.Series(table["fold"].to_numpy()).groupby(scenes).nunique() == 1).all()
    for k in (0, 1):  # the fold's model trained only on other folds' rows
        fold_rows = manifests.read(tmp_path / "runs" / f"fold_{k}" / "manifest.csv")
        scored = set(table.loc[table["fold"] == k, schema.SHA256])
        assert scored == set(fold_rows.loc[fold_rows[schema.SPLIT] == "test", schema.SHA256])
        assert not scored & set(fold_rows.loc[fold_rows[schema.SPLIT] != "test", schema.SHA256])
    feats = np.load(path.with_suffix(".features.npy"))  # out-of-fold features, row for row
    assert feats.shape[0] == len(table) and np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-3)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["k"] == 2 and meta["groups"] == [schema.SCENE]
