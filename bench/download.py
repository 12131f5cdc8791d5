"""Download throughput: gleanset's fetcher + image store vs img2dataset, same URLs, same workers.

A separate process serves ``--n`` generated photo-like JPEGs (``--size``, real-sized: ~100-300 KB)
over HTTP on 127.0.0.1 (``python -m http.server``). Both sides download every URL with the same number
of threads:

- gleanset: ``harvest.fetch.Fetcher.map`` (pooled session, retries, size limit) with each image fully
  decoded, sha256-hashed and written by ``manifests.store.store_bytes``;
- img2dataset: ``img2dataset.download`` (one process, ``thread_count`` threads), every image decoded
  with OpenCV (its check that the bytes are an image) and the original bytes kept (``resize_mode="no"``,
  ``skip_reencode``), sha256 computed, files output. Its wall time includes starting its worker
  process and sharding; the "download phase" is the duration img2dataset itself reports.

Prints one Markdown table row per worker count with images/s and the ratio (ours / img2dataset).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harvest.fetch import Fetcher, FetchOptions
from manifests.store import store_bytes


def make_images(root: Path, n: int, size: tuple[int, int]) -> int:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    total = 0
    for i in range(n):
        f = rng.uniform(0.005, 0.05, 6)
        arr = np.stack([127 + 120 * np.sin(f[c] * x + f[c + 3] * y + i) for c in range(3)], axis=-1)
        arr += rng.normal(0, 12, (h, w, 3))
        path = root / f"{i:05d}.jpg"
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
        total += path.stat().st_size
    return total


def serve(root: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(root)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def ours(urls: list[str], out: Path | None, workers: int) -> tuple[float, int]:
    """Fetch every URL; with ``out``, also verify, hash and store each image (``None``: fetch only)."""
    def handle(url: str, result) -> bool:
        return result.ok and (out is None or store_bytes(result.data, out)[0].ok)

    start = time.perf_counter()
    with Fetcher(FetchOptions(workers=workers, per_host=workers, allow_private=True)) as fetcher:
        ok = sum(fetcher.map(urls, handle))
    return time.perf_counter() - start, ok


def img2dataset_run(url_file: Path, out: Path, workers: int) -> tuple[float, float, int]:
    from img2dataset import download

    start = time.perf_counter()
    download(url_list=str(url_file), input_format="txt", output_folder=str(out), output_format="files",
             processes_count=1, thread_count=workers, resize_mode="no", skip_reencode=True,
             compute_hash="sha256", number_sample_per_shard=100_000, timeout=30, retries=0,
             enable_wandb=False, distributor="multiprocessing")
    elapsed = time.perf_counter() - start
    stats = json.loads(next(out.glob("*_stats.json")).read_text())
    return elapsed, stats["duration"], sum(1 for _ in out.rglob("*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--size", type=int, nargs=2, default=(1024, 768))
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 16])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        total = make_images(tmp_path / "served", args.n, tuple(args.size))
        proc, port = serve(tmp_path / "served")
        try:
            urls = [f"http://127.0.0.1:{port}/{i:05d}.jpg" for i in range(args.n)]
            url_file = tmp_path / "urls.txt"
            url_file.write_text("\n".join(urls) + "\n")
            print(f"cores: {os.cpu_count()}, images: {args.n} x {args.size[0]}x{args.size[1]} JPEG, "
                  f"mean {total / args.n / 1024:.0f} KiB")
            print("| workers | img2dataset wall (download phase) | img/s wall (download phase) "
                  "| gleanset fetch only | img/s | gleanset fetch+verify+store | img/s "
                  "| ratio fetch+store vs i2d wall (vs download phase) |")
            print("|---|---|---|---|---|---|---|---|")
            for w in args.workers:
                t_ref, t_dl, n_ref = img2dataset_run(url_file, tmp_path / f"i2d{w}", w)
                t_get, n_get = ours(urls, None, w)
                t_ours, n_ours = ours(urls, tmp_path / f"ours{w}", w)
                rate = n_ours / t_ours
                print(f"| {w} | {t_ref:.2f} s ({t_dl:.2f} s), {n_ref} ok | {n_ref / t_ref:.0f} "
                      f"({n_ref / t_dl:.0f}) | {t_get:.2f} s, {n_get} ok | {n_get / t_get:.0f} "
                      f"| {t_ours:.2f} s, {n_ours} ok | {rate:.0f} | "
                      f"{rate / (n_ref / t_ref):.2f}x ({rate / (n_ref / t_dl):.2f}x) |", flush=True)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
