"""Out-of-fold predicted probabilities: ``train --folds K``, grouped K-fold with the trainer's own runs.

:func:`out_of_fold` is the public entry point (``curate label-issues`` runs it through ``python -m
train run MANIFEST --folds K``). The manifest's ``status=ok`` rows with a label are cut into K folds
by :func:`assign_folds`: whole groups per fold (rows sharing a value of any group column are one
group, so a near-copy or a frame of the same shot is never scored by a model that saw its twin),
stratified by label (scikit-learn's ``StratifiedGroupKFold``). For each fold a small fold manifest is
written in the run folder (absolute image paths): the fold is its ``test`` split, about an eighth of
the remaining groups its ``val`` split (early stopping and the best epoch are chosen there, never on
the rows being scored) and the rest ``train``; :func:`train.runner.train` trains on it as any run, and
the fold's ``predictions.csv`` gives the probabilities of its test rows.

The predictions file (the contract with curate) is a CSV with one row per scored manifest row:

- ``sha256``: the row's identity in the manifest;
- ``label``: the label it had when scored;
- ``fold``: 0..K-1, the fold that scored it;
- ``p_<class>``: one probability column per class (each row sums to 1).

Beside it, ``<name>.json`` records the manifest, K, the group columns, the classes and the options,
and ``<name>.features.npy`` holds each scored row's backbone features (same row order, from the
fold's own model through :func:`train.embed.embed`) for outlier scores in feature space.
The default place is ``<manifest folder>/<manifest stem>.oof.csv``; fold runs go in ``--out``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

import manifests
from manifests import InputError, UsageError, schema
from manifests.progress import Progress

from .embed import embed
from .runner import TrainOptions, train

log = logging.getLogger(__name__)

FOLD = "fold"
PROB_PREFIX = "p_"
INNER_VAL_PARTS = 8  # about 1/8 of a fold's training groups validate it
CPU_BATCH = 32


def default_predictions_path(manifest: Path) -> Path:
    """``<manifest folder>/<manifest stem>.oof.csv``: where ``train --folds`` writes by default."""
    return manifest.resolve().parent / f"{manifest.stem}.oof.csv"


def features_path(predictions: Path) -> Path:
    """``<name>.features.npy`` beside a predictions file ``<name>.csv``."""
    return predictions.with_suffix(".features.npy")


def group_ids(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """One id per row: rows sharing a value of any of ``columns`` get the same id (transitively)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(frame)
    src, dst, offset = [np.arange(n)], [np.arange(n)], n
    for col in columns:
        values = frame[col].astype("string")
        has = values.notna().to_numpy()
        codes, _ = pd.factorize(values[has])
        src.append(np.flatnonzero(has))
        dst.append(codes + offset)
        offset += int(codes.max()) + 1 if len(codes) else 0
    s, d = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(s), np.int8), (s, d)), shape=(offset, offset))
    return connected_components(graph, directed=False)[1][:n]


def present_groups(frame: pd.DataFrame, group_by: tuple[str, ...] | None) -> tuple[str, ...]:
    """The group columns to use: ``group_by`` (checked) or the manifest's recorded group columns
    (:func:`manifests.group_columns`) plus ``dup_cluster``, where they hold values."""
    if group_by:
        missing = [c for c in group_by if c not in frame.columns]
        if missing:
            raise UsageError(f"--fold-groups: no column {', '.join(missing)} in the manifest")
        return tuple(group_by)
    known = (*manifests.group_columns(frame), schema.DUP_CLUSTER)
    return tuple(c for c in known if c in frame.columns and frame[c].notna().any())


def _stratified_group_split(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedGroupKFold

    fold = np.full(len(labels), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for i, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
        fold[test] = i
    return fold


def assign_folds(frame: pd.DataFrame, k: int, columns: tuple[str, ...], seed: int = 0) -> np.ndarray:
    """Fold 0..k-1 of each row: whole groups per fold, stratified by label."""
    if k < 2:
        raise UsageError(f"--folds must be at least 2, not {k}")
    groups = group_ids(frame, columns)
    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise UsageError(f"{n_groups} groups (by {', '.join(columns) or 'row'}) cannot fill {k} folds: "
                         "use fewer --folds or name finer --fold-groups")
    counts = frame[schema.LABEL].astype(str).value_counts()
    if counts.min() < k:
        raise UsageError(f"class {counts.idxmin()!r} has {counts.min()} ok rows, fewer than --folds {k}: "
                         f"some folds would score it with no way to learn it; use --folds "
                         f"{max(2, counts.min())} or fewer, or add rows of that class")
    return _stratified_group_split(frame[schema.LABEL].to_numpy(dtype=str), groups, k, seed)


def _usable(manifest: Path) -> tuple[pd.DataFrame, Path]:
    if not manifest.is_file():
        raise InputError(f"manifest {manifest} does not exist")
    frame = manifests.read(manifest)
    ok = frame[(frame[schema.STATUS] == schema.OK) & frame[schema.LABEL].notna()
               & frame[schema.PATH].notna()].reset_index(drop=True)
    if ok[schema.LABEL].nunique() < 2:
        raise InputError(f"{manifest} has fewer than 2 labelled classes among its ok rows")
    return ok, manifest.resolve().parent


def _fold_manifest(rows: pd.DataFrame, root: Path, fold: np.ndarray, k: int, groups: np.ndarray,
                   seed: int, folder: Path) -> Path:
    """Write fold ``k``'s manifest: the fold is test, ~1/8 of the other groups val, the rest train."""
    split = np.where(fold == k, "test", "train").astype(object)
    rest = np.flatnonzero(fold != k)
    labels = rows[schema.LABEL].to_numpy(dtype=str)[rest]
    # StratifiedGroupKFold refuses more parts than its largest class has rows
    parts = min(INNER_VAL_PARTS, len(np.unique(groups[rest])), int(pd.Series(labels).value_counts().max()))
    if parts >= 2:
        val = _stratified_group_split(labels, groups[rest], parts, seed + k) == 0
    else:
        val = np.arange(len(rest)) < max(1, len(rest) // INNER_VAL_PARTS)
    val &= ~np.isin(labels, np.unique(labels[~val]), invert=True)  # a class's only rows stay in train
    split[rest[val]] = "val"
    out = rows.assign(**{schema.SPLIT: split,
                         schema.PATH: [str(root / p) for p in rows[schema.PATH]]})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.csv"
    manifests.write(out, path)
    return path


def safe_batch(n_train: int, batch: int) -> int:
    """A batch size whose last train batch is not a single image (BatchNorm cannot train on one)."""
    if n_train < 2:
        raise InputError(f"a fold would train on {n_train} image(s): use fewer --folds or more data")
    batch = max(2, min(batch, n_train))
    for b in [*range(batch, 1, -1), *range(batch + 1, n_train + 1)]:
        if n_train % b != 1:
            return b
    return n_train


def _fold_options(options: TrainOptions, out: Path, n_train: int, cache: Path) -> TrainOptions:
    batch = safe_batch(n_train, options.batch_size or CPU_BATCH)
    return replace(options, out=out, batch_size=batch, resume=False, review=0,
                   cache_dir=options.cache_dir or cache)


def out_of_fold(manifest: Path, options: TrainOptions, k: int = 5, group_by: tuple[str, ...] | None = None,
                predictions: Path | None = None, progress: Progress | None = None) -> Path:
    """Train ``k`` grouped folds and write the out-of-fold predictions file; returns its path.

    ``options`` are the per-fold training options (``out`` is the folder for the fold runs, default
    ``runs/<dataset>-<arch>-folds<k>-<time>``); ``predictions`` defaults to
    :func:`default_predictions_path`. See the module docstring for the file format.
    """
    rows, root = _usable(manifest)
    columns = present_groups(rows, group_by)
    groups = group_ids(rows, columns)
    fold = assign_folds(rows, k, columns, options.seed)
    out = options.out or Path("runs") / (f"{root.name}-{options.arch}-folds{k}-"
                                         f"{time.strftime('%Y%m%d-%H%M%S')}")
    classes = sorted(rows[schema.LABEL].unique())
    parts, feats = [], []
    for i in range(k):
        folder = out / f"fold_{i}"
        fold_manifest = _fold_manifest(rows, root, fold, i, groups, options.seed, folder)
        n_train = int((manifests.read(fold_manifest)[schema.SPLIT] == "train").sum())
        log.info("fold %d/%d: %d rows scored, %d trained on", i + 1, k, int((fold == i).sum()), n_train)
        result = train(fold_manifest, _fold_options(options, folder / "run", n_train,
                                                    root / ".cache" / "train"), progress)
        scored = pd.read_csv(result.out / "predictions.csv")
        scored = scored[scored[schema.SPLIT] == "test"].reset_index(drop=True)
        probs = scored[[f"{PROB_PREFIX}{c}" for c in classes]]
        parts.append(pd.concat([scored[[schema.SHA256, schema.LABEL]].assign(**{FOLD: i}), probs], axis=1))
        feats.append(embed(scored[schema.PATH].tolist(), weights=str(result.out / "model.pt"),
                           device=options.device))
    table = pd.concat(parts, ignore_index=True)
    path = predictions or default_predictions_path(manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(features_path(path), np.concatenate(feats).astype(np.float32))
    write_predictions(table, path, {"manifest": str(manifest.resolve()), "k": k, "groups": list(columns),
                                    "classes": classes, "runs": str(out),
                                    "options": json.loads(json.dumps(asdict(options), default=str))})
    return path


def write_predictions(table: pd.DataFrame, path: Path, meta: dict) -> None:
    """Write the predictions CSV and its ``.json`` description (each atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    side = path.with_suffix(".json")
    side.with_name(side.name + ".tmp").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    side.with_name(side.name + ".tmp").replace(side)
