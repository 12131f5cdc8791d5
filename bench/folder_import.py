"""Benchmark: `harvest folder` on 10,000 small images against a bare verify loop, in one run.

The anchor is the least any importer must do: read each file, sha256 it and decode it fully with
Pillow, in one process. `harvest folder` does that plus the manifest, the lock, the lineage log and
the label/pattern logic, on a process pool. Prints a Markdown row for BENCHMARKS.md.

    .venv/bin/python bench/folder_import.py [--n 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_images(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"class_{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"img_{i}.jpg", quality=85)


def bare_loop(root: Path) -> float:
    start = time.perf_counter()
    for path in sorted(root.rglob("*.jpg")):
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        with Image.open(path) as img:
            img.load()
    return time.perf_counter() - start


def harvest(root: Path, manifest: Path, workers: int) -> float:
    exe = Path(sys.executable).with_name("harvest")
    start = time.perf_counter()
    subprocess.run([str(exe), "folder", str(root), "-m", str(manifest), "--json", "-j", str(workers)],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        make_images(root, args.n)
        base = bare_loop(root)
        ours = harvest(root, Path(tmp) / "manifest.csv", args.workers)
        again = harvest(root, Path(tmp) / "manifest.csv", args.workers)
    print(f"cores available: {os.cpu_count()}, workers: {args.workers}, images: {args.n}")
    print("| images | bare verify loop (1 process) | harvest folder | images/s | ratio | re-run |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.n} | {base:.1f} s | {ours:.1f} s | {args.n / ours:.0f} | "
          f"{ours / base:.2f}x | {again:.1f} s |")


if __name__ == "__main__":
    main()
