"""Benchmark: the data stages on Dask against the local executor at equal cores, in one run.

Each configuration runs in its own Python process, and its cost is the CPU seconds of that process
and all its children (pool workers, Dask worker processes, ffmpeg), so the figure includes the
engine's own start-up and scheduling: the overhead a user pays for ``--executor dask-local``.

- hashing: ``curate dedupe``'s hashing (phash) of N generated 64x48 JPEGs, in ``hash_files``' batches,
  with the CPU spent inside the tasks measured apart from the CPU outside them (the engine's own);
- frames: ``harvest frames --every 12`` of 4 generated videos;
- search: the exact pair search over M random 64-bit hashes (with planted near-copies) cut into hash
  blocks on ``dask-local``: wall time, blocks, and peak resident memory per worker.

    PYTHONPATH=. .venv/bin/python bench/scaleout.py [--images 100000] [--hashes 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIGS = [("local", 1), ("dask-local", 1), ("local", 2), ("dask-local", 2)]


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def make_images(root: Path, n: int) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = root / f"{i // 1000:03d}" / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path, quality=85)
        paths.append(str(path))
    return paths


def timed_hash_batch(args: tuple) -> tuple[list, float]:
    """``curate.dedupe.hashing``'s task, and the CPU its thread spent in it (the work itself, without
    the engine)."""
    from curate.dedupe.hashing import hash_batch

    start = time.thread_time()
    rows = hash_batch(args)
    return rows, time.thread_time() - start


def one_hashing(listing: Path, kind: str, workers: int) -> dict[str, float]:
    """``hash_files``' batches on the executor, with each task's own CPU measured: the CPU outside the
    tasks (process starts, imports, the engine's scheduling and event loops) is the executor's cost."""
    from curate.dedupe.hashing import hash_batches
    from manifests.executor import ExecutorSpec, run_partitions

    paths = listing.read_text().splitlines()
    start, cpu = time.perf_counter(), cpu_seconds()
    spec = ExecutorSpec(kind, workers)
    done, in_tasks = 0, 0.0
    for rows, seconds in run_partitions(timed_hash_batch, hash_batches(paths, "phash", 8, False, spec), spec):
        done += sum(r[0] is not None for r in rows)
        in_tasks += seconds
    assert done == len(paths)
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu, "tasks": in_tasks}


def one_frames(videos: Path, kind: str, workers: int) -> dict[str, float]:
    from harvest.video import FrameOptions, FramesCollector, FramesOptions
    from manifests import Appender
    from manifests.executor import ExecutorSpec

    files = tuple(sorted(videos.glob("*.mp4")))
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), cpu_seconds()
        spec = ExecutorSpec(kind, workers) if kind != "local" else None
        with Appender(Path(tmp) / "m.csv") as sink:
            FramesCollector(FramesOptions(files, FrameOptions(every=12), workers=workers,
                                          executor=spec)).run(sink)
        return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - cpu}


def one_search(n: int, workers: int, block_rows: int) -> dict[str, float]:
    from distributed import Client, LocalCluster

    from curate.dedupe.blocks import block_count, block_pairs
    from manifests.executor import ExecutorSpec

    rng = np.random.default_rng(1)
    packed = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    planted = min(n // 100, 100_000)
    packed[-planted:] = packed[:planted] ^ np.packbits(rng.random((planted, 64)) < 0.05, axis=1)
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        spec = ExecutorSpec("dask", cluster=cluster.scheduler_address)
        start = time.perf_counter()
        i, _ = block_pairs(packed, 8, "mih", spec, block_rows=block_rows)
        wall = time.perf_counter() - start
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {"wall": wall, "pairs": len(i), "blocks": block_count(n, block_rows),
            "peak_worker_mib": max(peaks.values()) / 1024, "hashes": n}


def run_one(argv: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--one", *argv], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(repeat: int, stage: list[str]) -> dict[tuple[str, int], list[dict[str, float]]]:
    """Each configuration ``repeat`` times, interleaved, so the shared machine's load falls on all alike."""
    runs: dict[tuple[str, int], list[dict[str, float]]] = {c: [] for c in CONFIGS}
    for _ in range(repeat):
        for kind, workers in CONFIGS:
            runs[(kind, workers)].append(run_one([*stage, kind, str(workers)]))
    return runs


def best_of(runs: dict[tuple[str, int], list[dict[str, float]]]) -> dict[tuple[str, int], dict[str, float]]:
    """The run with the least CPU of each configuration."""
    return {c: min(r, key=lambda x: x["cpu"]) for c, r in runs.items()}


def table(name: str, results: dict[tuple[str, int], dict[str, float]]) -> None:
    print(f"\n{name}\n\n| executor | workers | wall s | CPU s | CPU vs local |\n|---|---|---|---|---|")
    for kind, workers in CONFIGS:
        r = results[(kind, workers)]
        base = results[("local", workers)]["cpu"]
        print(f"| {kind} | {workers} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['cpu'] / base:.2f}x |")


def engine_table(runs: dict[tuple[str, int], list[dict[str, float]]]) -> None:
    """The executor's own CPU, outside the tasks, per run (median over the runs), and what it adds to
    the same work: ``(work + outside) / (work + local's outside)``, with ``work`` the local executor's
    median CPU inside tasks. This comparison does not move with the box's speed from run to run, which
    changes the tasks' own CPU by up to 25% here."""
    print("\n| executor | workers | CPU in tasks (median) | CPU outside tasks (median, each run) "
          "| engine overhead on the same work |\n|---|---|---|---|---|")
    for kind, workers in CONFIGS:
        rs, local = runs[(kind, workers)], runs[("local", workers)]
        outside = [r["cpu"] - r["tasks"] for r in rs]
        work = statistics.median(r["tasks"] for r in local)
        base = statistics.median(r["cpu"] - r["tasks"] for r in local)
        each = ", ".join(f"{o:.2f}" for o in outside)
        ratio = (work + statistics.median(outside)) / (work + base)
        print(f"| {kind} | {workers} | {statistics.median(r['tasks'] for r in rs):.1f} | "
              f"{statistics.median(outside):.2f} ({each}) | {ratio:.3f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--block-rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration; the least CPU is kept")
    parser.add_argument("--skip", default="", help="comma list of stages to skip: hashing,frames,search")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        stage, *rest = args.one
        if stage == "hashing":
            print(json.dumps(one_hashing(Path(rest[0]), rest[1], int(rest[2]))))
        elif stage == "frames":
            print(json.dumps(one_frames(Path(rest[0]), rest[1], int(rest[2]))))
        else:
            print(json.dumps(one_search(int(rest[0]), int(rest[1]), int(rest[2]))))
        return
    skip = set(args.skip.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "hashing" not in skip:
            listing = root / "paths.txt"
            listing.write_text("\n".join(make_images(root / "images", args.images)))
            runs = interleaved(args.repeat, ["hashing", str(listing)])
            table(f"hashing {args.images} images (phash)", best_of(runs))
            engine_table(runs)
        if "frames" not in skip:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.fixtures.video import make_video

            shots = [("testsrc2", 150), ("mandelbrot", 150), ("sierpinski=seed=3", 150), ("life", 150)]
            for v in range(4):
                make_video(root / "videos" / f"v{v}.mp4", shots[v:] + shots[:v], size=(640, 360))
            results = best_of(interleaved(args.repeat, ["frames", str(root / "videos")]))
            table("harvest frames --every 12, 4 videos of 600 frames at 640x360", results)
        if "search" not in skip:
            r = run_one(["search", str(args.hashes), "2", str(args.block_rows)])
            print(f"\nblock search: {r['hashes']:,} hashes, {r['blocks']} blocks of {args.block_rows:,}, "
                  f"threshold 8, dask-local 2 workers: {r['wall']:.0f} s, {r['pairs']:,} pairs, "
                  f"peak RSS per worker {r['peak_worker_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
