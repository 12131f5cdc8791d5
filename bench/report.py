"""Benchmark: `curate report` on a generated 50,000-row manifest, against named anchors in one run.

The manifest: ``--rows`` rows in 10 classes, 2,000 scenes, 3 splits, 5% failed rows, 2,000
near-duplicate clusters, a tenth of the rows from an image search (licence, creator, page URL) and
label-quality columns. Rows point at ``--images`` distinct real-sized JPEGs (640x480 photos), each
row with its own sha256, so every thumbnail the report shows is decoded from a real file.

Anchors, same run, same manifest:
- ``read``: ``manifests.read`` of the manifest alone (the floor: any report must read the file);
- ``naive thumbnails``: the same images the report shows, thumbnailed one by one with a full decode
  (``Image.open().convert("RGB").thumbnail()``, no draft mode, one thread, no cache), beside ours
  (``curate.report.thumbs.thumbnails``: draft decode on a thread pool, encoded to JPEG, no cache).

Measured: the report with a cold thumbnail cache, then warm (the cache beside the manifest), and the
whole ``curate report`` command (process start and imports) warm. CPU seconds (all threads) and wall
seconds. Prints a Markdown table for BENCHMARKS.md.

    .venv/bin/python bench/report.py [--rows 50000] [--images 400]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

import manifests
from curate.report import ReportOptions, write_report
from curate.report.pictures import Pictures
from curate.report.thumbs import ThumbJob, thumbnails
from manifests import schema


def photo(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    arr = np.stack([127 + 120 * np.sin(rng.uniform(0.005, 0.05) * x + rng.uniform(0.005, 0.05) * y
                                       + rng.uniform(0, 6.28)) for _ in range(3)], axis=-1)
    return Image.fromarray(np.clip(arr + rng.normal(0, 6, arr.shape), 0, 255).astype(np.uint8))


def generate(root: Path, rows: int, images: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    for i in range(images):
        photo(i).save(root / "images" / f"{i:05d}.jpg", quality=88)
    idx = np.arange(rows)
    label = rng.integers(0, 10, rows)
    scene = rng.integers(0, 2000, rows)
    status = np.where(rng.random(rows) < 0.05, schema.CORRUPT, schema.OK).astype(object)
    cluster = np.where(rng.random(rows) < 0.08, rng.integers(0, 2000, rows), -1)
    status[(cluster >= 0) & (rng.random(rows) < 0.5) & (status == schema.OK)] = schema.DUPLICATE
    search = rng.random(rows) < 0.1
    frame = pd.DataFrame({
        schema.SHA256: [hashlib.sha256(str(i).encode()).hexdigest() for i in idx],
        schema.PATH: [f"images/{i % images:05d}.jpg" for i in idx],
        schema.LABEL: [f"class{c}" for c in label],
        schema.SOURCE: np.where(search, "search:openverse", "frames"),
        schema.ORIGIN: [f"movie.mp4#frame={i}" for i in idx],
        schema.WIDTH: 640, schema.HEIGHT: 480, schema.FORMAT: "jpeg", schema.BYTES: 40000,
        schema.STATUS: status,
        schema.ERROR: np.where(status == schema.CORRUPT, "cannot decode", None),
        schema.SPLIT: rng.choice(["train", "val", "test"], rows, p=[0.7, 0.15, 0.15]),
        schema.SCENE: [f"movie:{s:04d}" for s in scene],
        schema.DUP_CLUSTER: np.where(cluster >= 0, [f"c{c:05d}" for c in cluster], None),
        schema.LICENSE: np.where(search, "by 4.0", None),
        schema.CREATOR: np.where(search, [f"artist{i % 300}" for i in idx], None),
        schema.PAGE_URL: np.where(search, [f"https://example.org/{i}" for i in idx], None),
        schema.LABEL_QUALITY: rng.random(rows).round(3),
        schema.LABEL_ISSUE: rng.random(rows) < 0.02,
    })
    manifest = root / "manifest.csv"
    with manifests.update(manifest, command="bench generate") as tx:
        tx.frame = manifests.conform(frame)
    return manifest


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn) -> tuple[float, float, object]:
    c0, w0 = cpu(), time.perf_counter()
    out = fn()
    return cpu() - c0, time.perf_counter() - w0, out


def naive(paths: list[Path], size: int) -> None:
    for p in paths:
        with Image.open(p) as img:
            img.convert("RGB").thumbnail((size, size))


def command(manifest: Path, out: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    exe = Path(sys.executable).with_name("curate")
    subprocess.run([str(exe), "report", str(manifest), "-o", str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            time.perf_counter() - w0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--images", type=int, default=400)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        manifest = generate(tmp / "data", args.rows, args.images)
        options = ReportOptions()
        read_cpu, read_wall, frame = timed(lambda: manifests.read(manifest))
        Pictures.make(frame, manifest.parent, ReportOptions(cache=False, per_cell=0, clusters=0))  # imports
        from curate.report.pictures import _clusters, _issue_rows, _sample
        rows = pd.concat([_sample(frame, options), *_clusters(frame, options), _issue_rows(frame, options)])
        paths = [manifest.parent / p for p in rows[schema.PATH]]
        naive_cpu, naive_wall, _ = timed(lambda: naive(paths, options.thumb_size))
        jobs = [ThumbJob(p, f"{i}") for i, p in enumerate(paths)]
        ours_cpu, ours_wall, _ = timed(lambda: thumbnails(jobs, tmp, options.thumb_size, cache=False))
        cold_cpu, cold_wall, result = timed(lambda: write_report(manifest, tmp / "cold.html", options))
        warm_cpu, warm_wall, _ = timed(lambda: write_report(manifest, tmp / "warm.html", options))
        cmd_cpu, cmd_wall = command(manifest, tmp / "cmd.html")
        size = (tmp / "warm.html").stat().st_size / 1e6
        print(f"{args.rows} rows, {result.thumbnails} thumbnails, page {size:.1f} MB\n")
        print("| step | CPU s | wall s | vs read (CPU) |\n|---|---|---|---|")
        for name, c, w in (("read the manifest (anchor)", read_cpu, read_wall),
                           (f"naive thumbnails of the same {len(paths)} images (anchor)", naive_cpu,
                            naive_wall),
                           ("ours: the same thumbnails (draft decode, thread pool, no cache)",
                            ours_cpu, ours_wall),
                           ("report, cold thumbnail cache", cold_cpu, cold_wall),
                           ("report, warm cache", warm_cpu, warm_wall),
                           ("`curate report` command, warm", cmd_cpu, cmd_wall)):
            print(f"| {name} | {c:.2f} | {w:.2f} | {c / read_cpu:.1f}x |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
