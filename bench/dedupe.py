"""Benchmark: `curate dedupe` hashing and search against imagededup's PHash, side by side in one run.

Three measurements, each printing a Markdown table for BENCHMARKS.md:

1. hashing: images/s of gleanset's phash (reduced-size decoding, process pool) and of imagededup's
   ``PHash().encode_images`` on the same folder of 1080p JPEGs, same number of workers;
2. search: all pairs within distance 10 on 20,000 and 1,000,000 synthetic 64-bit hashes (uniformly
   random, plus 10% planted near-copies with ~6% of bits flipped) with gleanset's multi-index hashing,
   and imagededup's ``find_duplicates`` on the 20,000 (its default brute-force Cython search);
3. quality: recall per transform and false pairs on generated photo-like images, both tools at the
   same threshold.

    .venv/bin/python bench/dedupe.py [--images 200] [--photos 150] [--workers 2] [--skip-million]

Needs the bench extra (``pip install -e '.[bench]'``) for imagededup.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curate.dedupe import hashing, index, search
from tests.fixtures.transforms import TRANSFORMS, scene


def _imagededup():
    from imagededup.methods import PHash
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("imagededup"):
            logging.getLogger(name).setLevel(logging.ERROR)
    return PHash(verbose=False)


def bench_hashing(root: Path, n: int, workers: int) -> None:
    folder = root / "hd"
    folder.mkdir()
    for i in range(n):
        scene(1920, 1080, seed=i).save(folder / f"{i}.jpg", quality=90)
    paths = sorted(str(p) for p in folder.iterdir())
    start = time.perf_counter()
    ours = list(hashing.hash_files(paths, "phash", 8, workers=workers))
    t_ours = time.perf_counter() - start
    phasher = _imagededup()
    start = time.perf_counter()
    theirs = phasher.encode_images(image_dir=str(folder), num_enc_workers=workers)
    t_theirs = time.perf_counter() - start
    assert len(ours) == len(theirs) == n
    print("\n| images (1920x1080 JPEG) | workers | gleanset phash | imagededup PHash.encode_images "
          "| ratio |")
    print("|---|---|---|---|---|")
    print(f"| {n} | {workers} | {n / t_ours:.0f} img/s ({t_ours:.1f} s) | {n / t_theirs:.0f} img/s "
          f"({t_theirs:.1f} s) | {t_theirs / t_ours:.1f}x |")


def synthetic_hashes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    packed = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    k = n // 10
    packed[n - k:] = packed[:k] ^ np.packbits(rng.random((k, 64)) < 0.06, axis=1)
    return packed


def bench_search(sizes: list[int], workers: int, threshold: int = 10) -> None:
    print(f"\n| hashes | gleanset mih ({workers} threads) | pairs | chunks | imagededup find_duplicates "
          f"({workers} workers) | pairs | ratio |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        packed = synthetic_hashes(n)
        index.mih_pairs(packed[:100], threshold)  # compile the kernel outside the timing
        start = time.perf_counter()
        i, _ = index.mih_pairs(packed, threshold, workers=workers)
        t_ours = time.perf_counter() - start
        chunks = index.choose_chunks(64, n, threshold)
        theirs, t_theirs, their_pairs = "-", None, "-"
        if n <= 50_000:
            encoding = {str(k): bytes(row).hex() for k, row in enumerate(packed)}
            phasher = _imagededup()
            start = time.perf_counter()
            found = phasher.find_duplicates(encoding_map=encoding, max_distance_threshold=threshold,
                                            num_dist_workers=workers)
            t_theirs = time.perf_counter() - start
            their_pairs = str(sum(len(v) for v in found.values()) // 2)
            theirs = f"{t_theirs:.2f} s"
        ratio = f"{t_theirs / t_ours:.0f}x" if t_theirs else "-"
        print(f"| {n:,} | {t_ours:.2f} s | {len(i)} | {chunks} | {theirs} | {their_pairs} | {ratio} |",
              flush=True)


def make_transformed(root: Path, photos: int) -> dict[str, tuple[int, str]]:
    """Originals and every transform of each; returns file name -> (photo, transform)."""
    folder = root / "tx"
    folder.mkdir()
    meta = {}
    for p in range(photos):
        img = scene(640, 480, seed=10_000 + p)
        img.save(folder / f"{p}_original.jpg", quality=92)
        meta[f"{p}_original.jpg"] = (p, "original")
        for name, transform in TRANSFORMS.items():
            out, quality = transform(img)
            out.save(folder / f"{p}_{name}.jpg", quality=quality or 92)
            meta[f"{p}_{name}.jpg"] = (p, name)
    return meta


def _score(pairs: set[frozenset[str]], meta: dict[str, tuple[int, str]]) -> tuple[dict[str, float], int]:
    recall = {}
    for name in TRANSFORMS:
        hits = [frozenset((f"{p}_original.jpg", f"{p}_{name}.jpg")) in pairs
                for p in {m[0] for m in meta.values()}]
        recall[name] = float(np.mean(hits))
    false = sum(1 for pair in pairs if len({meta[f][0] for f in pair}) > 1)
    return recall, false


def bench_quality(root: Path, photos: int, workers: int, threshold: int = 10) -> None:
    meta = make_transformed(root, photos)
    folder = root / "tx"
    names = sorted(meta)
    results = list(hashing.hash_files([str(folder / f) for f in names], "phash", 8, workers=workers))
    packed = hashing.hex_to_bits([r[0] for r in results], 16)
    i, j = search.near_pairs(packed, threshold, workers=workers)
    ours = {frozenset((names[a], names[b])) for a, b in zip(i, j, strict=True)}
    found = _imagededup().find_duplicates(image_dir=str(folder), max_distance_threshold=threshold,
                                          num_enc_workers=workers, num_dist_workers=workers)
    theirs = {frozenset((a, b)) for a, dups in found.items() for b in dups}
    r_ours, f_ours = _score(ours, meta)
    r_theirs, f_theirs = _score(theirs, meta)
    print(f"\n| transform ({photos} photos, threshold {threshold}) | gleanset recall | imagededup recall |")
    print("|---|---|---|")
    for name in TRANSFORMS:
        print(f"| {name} | {r_ours[name]:.1%} | {r_theirs[name]:.1%} |")
    total = photos * len(list(itertools.combinations(range(len(TRANSFORMS) + 1), 2)))
    print(f"| false pairs (different photos) | {f_ours} | {f_theirs} |")
    print(f"| true pairs found (of {total} within-photo pairs) | "
          f"{len(ours) - f_ours} | {len(theirs) - f_theirs} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--images", type=int, default=200, help="1080p JPEGs for the hashing race")
    parser.add_argument("--photos", type=int, default=150, help="photos for recall per transform")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, workers: {args.workers}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_hashing(Path(tmp), args.images, args.workers)
        bench_search([20_000] + ([] if args.skip_million else [1_000_000]), args.workers)
        bench_quality(Path(tmp), args.photos, args.workers)


if __name__ == "__main__":
    main()
