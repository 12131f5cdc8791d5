"""Benchmark: `curate split` against scikit-learn's GroupShuffleSplit and StratifiedGroupKFold.

The same synthetic manifests go to all three: ``--rows`` rows in ``--groups`` groups (scenes) of
lognormal sizes, ``--classes`` classes, each group drawing its classes from its own skewed mix (a scene
mostly shows one studio's characters). Wanted: train/val/test = 0.7/0.15/0.15, no group in two splits.

- GroupShuffleSplit: test_size=0.15, then val from the rest (0.15/0.85), both counted in groups;
- StratifiedGroupKFold: 20 shuffled folds, folds 0-2 are test, 3-5 val, the rest train;
- ours: ``curate.split.assign_splits`` with ``--group-by scene``, default effort (8 restarts).

The figure of merit is the largest |share of class c in split s - ratio of s| over all classes and
splits. Prints a Markdown table for BENCHMARKS.md.

    .venv/bin/python bench/split.py [--rows 100000] [--groups 2000] [--classes 10] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

import manifests
from curate.split import SplitOptions, assign_splits
from manifests import schema

RATIOS = np.array([0.7, 0.15, 0.15])


def synthetic(rows: int, groups: int, classes: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.lognormal(0.0, 1.0, groups)
    sizes = np.maximum(1, np.round(sizes / sizes.sum() * rows)).astype(int)
    group = np.repeat(np.arange(groups), sizes)
    mixes = rng.dirichlet(np.full(classes, 0.3), groups)
    labels = np.concatenate([rng.choice(classes, size=n, p=mixes[g]) for g, n in enumerate(sizes)])
    frame = pd.DataFrame({schema.SHA256: [f"{i:064x}" for i in range(len(group))],
                          schema.LABEL: [f"class{c:02d}" for c in labels],
                          schema.SCENE: [f"scene{g:05d}" for g in group], schema.STATUS: schema.OK})
    return manifests.conform(frame)


def deviation(labels: np.ndarray, split: np.ndarray) -> float:
    table = pd.crosstab(labels, split).reindex(columns=[0, 1, 2], fill_value=0).to_numpy(dtype=float)
    share = table / table.sum(axis=1, keepdims=True)
    return float(np.abs(share - RATIOS).max())


def group_shuffle(frame: pd.DataFrame, seed: int) -> np.ndarray:
    split = np.zeros(len(frame), dtype=int)
    groups = frame[schema.SCENE].to_numpy()
    rest, test = next(GroupShuffleSplit(1, test_size=0.15, random_state=seed).split(frame, groups=groups))
    split[test] = 2
    _, va = next(GroupShuffleSplit(1, test_size=0.15 / 0.85, random_state=seed).split(
        rest, groups=groups[rest]))
    split[rest[va]] = 1
    return split


def stratified_group_kfold(frame: pd.DataFrame, seed: int) -> np.ndarray:
    folds = np.zeros(len(frame), dtype=int)
    sgkf = StratifiedGroupKFold(n_splits=20, shuffle=True, random_state=seed)
    for k, (_, idx) in enumerate(sgkf.split(frame, frame[schema.LABEL], frame[schema.SCENE])):
        folds[idx] = k
    return np.where(folds < 3, 2, np.where(folds < 6, 1, 0))


def ours(frame: pd.DataFrame, seed: int) -> np.ndarray:
    out, _ = assign_splits(frame, SplitOptions(group_by=(schema.SCENE,), seed=seed))
    return out[schema.SPLIT].map({"train": 0, "val": 1, "test": 2}).to_numpy(dtype=int)


METHODS = {"GroupShuffleSplit": group_shuffle, "StratifiedGroupKFold (20 folds)": stratified_group_kfold,
           "curate split": ours}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=2_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {m: [] for m in METHODS}
    for seed in range(args.seeds):
        frame = synthetic(args.rows, args.groups, args.classes, seed)
        labels = frame[schema.LABEL].to_numpy()
        for name, method in METHODS.items():
            start = time.perf_counter()
            split = method(frame, seed)
            took = time.perf_counter() - start
            assert (pd.Series(split).groupby(frame[schema.SCENE].to_numpy()).nunique() == 1).all()
            results[name].append((deviation(labels, split), took))
    rows = len(frame)
    ref = np.mean([d for d, _ in results["curate split"]])
    print(f"{rows} rows, {args.groups} groups, {args.classes} classes, {args.seeds} manifests\n")
    print("| method | largest per-class deviation (mean / worst) | vs ours | time (mean) |")
    print("|---|---|---|---|")
    for name, res in results.items():
        devs, times = np.array([d for d, _ in res]), np.array([t for _, t in res])
        print(f"| {name} | {devs.mean():.4f} / {devs.max():.4f} | {devs.mean() / ref:.0f}x "
              f"| {times.mean():.2f} s |")


if __name__ == "__main__":
    main()
