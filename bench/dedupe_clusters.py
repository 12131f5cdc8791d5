"""Benchmark: near-duplicate clusters before (connected components) and after (keeper-centred) the
chaining fix, side by side in one run.

1. purity on generated photos: each photo saved with every transform of ``tests/fixtures/transforms``
   (the labelled truth: which photo a file is), phash 8x8, at several thresholds. For each method:
   recall (transformed copies in their original's cluster), purity (share of clustered rows that
   belong to their cluster's majority photo), clusters holding two or more photos, and the largest
   distance of a member from its keeper;
2. speed on 1,000,000 synthetic 64-bit hashes (bench/dedupe.py's set): the search (multi-index
   hashing) and each clustering, CPU seconds.

    .venv/bin/python bench/dedupe_clusters.py [--photos 60] [--workers 2] [--skip-million]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dedupe import make_transformed, synthetic_hashes
from curate.dedupe import clusters, hashing, index, search


def _cpu() -> float:
    return time.process_time()


def purity_table(root: Path, photos: int, workers: int, thresholds: list[int]) -> None:
    meta = make_transformed(root, photos)
    names = sorted(meta)
    results = list(hashing.hash_files([str(root / "tx" / f) for f in names], "phash", 8, workers=workers))
    uniq, inverse = np.unique([r[0] for r in results], return_inverse=True)
    node_of = inverse.reshape(1, -1).astype(np.int64)
    bits = hashing.hex_to_bits(uniq.tolist(), 16)
    words = index.to_words(bits)
    photo = np.array([meta[f][0] for f in names])
    original = {meta[f][0]: k for k, f in enumerate(names) if meta[f][1] == "original"}
    rank = np.array([0 if meta[f][1] == "original" else 1 for f in names])  # originals kept first
    print(f"\n| threshold ({photos} photos x {len(names) // photos} files) | clusters | recall | purity | "
          "clusters with 2+ photos | largest distance to keeper |")
    print("|---|---|---|---|---|---|")
    for threshold in thresholds:
        pi, pj = search.near_pairs(bits, threshold)
        for method in clusters.METHODS:
            label = clusters.cluster_rows(node_of, len(uniq), pi, pj, rank, method)
            frame = pd.DataFrame({"c": label, "photo": photo, "rank": rank})
            sizes = frame.groupby("c")["photo"].transform("size")
            clustered = frame[sizes > 1]
            majority = clustered.groupby("c")["photo"].agg(lambda s: s.value_counts().iloc[0])
            purity = majority.sum() / max(1, len(clustered))
            mixed = int((clustered.groupby("c")["photo"].nunique() > 1).sum())
            recall = np.mean([label[k] == label[original[p]] for k, p in enumerate(photo)
                              if k != original[p]])
            keeper = clustered.sort_values("rank", kind="stable").groupby("c").head(1)
            keep_row = dict(zip(keeper["c"], keeper.index, strict=True))
            far = max((int(index.hamming(words[node_of[0, [r]]], words[node_of[0, [keep_row[c]]]])[0])
                       for r, c in zip(clustered.index, clustered["c"], strict=True)), default=0)
            print(f"| {threshold}, {method} | {clustered['c'].nunique()} | {recall:.1%} | {purity:.1%} "
                  f"| {mixed} | {far} |", flush=True)


def speed_table(n: int, workers: int, threshold: int = 10) -> None:
    packed = synthetic_hashes(n)
    index.mih_pairs(packed[:100], threshold)  # compile outside the timing
    clusters.keeper_clusters(np.zeros((1, 2), np.int64), 1, np.empty(0, np.int64), np.empty(0, np.int64),
                             np.arange(2))
    start = _cpu()
    pi, pj = index.mih_pairs(packed, threshold, workers=workers)
    t_search = _cpu() - start
    node_of = np.arange(n, dtype=np.int64).reshape(1, -1)
    rank = np.random.default_rng(0).permutation(n)
    print(f"\n| {n:,} hashes, threshold {threshold} | CPU s | pairs / clusters |")
    print("|---|---|---|")
    print(f"| search (mih, {workers} threads) | {t_search:.2f} | {len(pi):,} pairs |")
    for method in clusters.METHODS:
        start = _cpu()
        label = clusters.cluster_rows(node_of, n, pi, pj, rank, method)
        took = _cpu() - start
        sizes = np.bincount(label)
        print(f"| clusters: {method} | {took:.2f} | {(sizes > 1).sum():,} clusters of 2+ |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        purity_table(Path(tmp), args.photos, args.workers, [10, 14, 18, 22])
    if not args.skip_million:
        speed_table(1_000_000, args.workers)


if __name__ == "__main__":
    main()
