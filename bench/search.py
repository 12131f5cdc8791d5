"""Search overhead: ``harvest search`` on 500 results vs the fetcher alone on the same 500 images.

The images are ``bench/download.py``'s (generated photo-like JPEGs, ``--size``, served by
``python -m http.server`` in its own process). A second process runs the local fake engine
(``tests.fixtures.search``) whose results point at those images, in the documented shape of
``--engine`` (Commons by default: 50 results a page, ``continue`` paging, so 10 API calls).

- anchor: ``Fetcher.map`` over the 500 URLs with ``store_bytes`` (download, decode, sha256, store),
  no manifest: ``bench/download.py``'s "gleanset fetch+verify+store";
- search: ``SearchCollector.run`` into a fresh manifest with the same fetcher settings: listing the
  pages, 500 rows with their attribution, the manifest's merges and writes, the finished-page log.

Both run in this process, alternately, ``--repeat`` times each; the figure is the best CPU seconds
(``time.process_time``: every thread of this process, not the servers') and the wall time of that run.
The goal is search / anchor <= 1.10 in CPU seconds. The collector is measured twice: as the command
runs it (the appender merges buffered rows into the manifest every 200 rows and 5 s, for crash safety)
and writing the manifest once at the end, which isolates the engine layer (listing, rows, one write)
from the appender's periodic merges that every collector pays.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from download import make_images, serve

from harvest.fetch import Fetcher, FetchOptions
from harvest.search import SearchCollector, SearchOptions
from manifests import Appender
from manifests.store import store_bytes
from tests.fixtures.search import KEYS

ENGINE_SERVER = """
import sys, time
from tests.fixtures.http import FakeWeb
from tests.fixtures.search import Item, SearchWorld
images, n, port_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with FakeWeb() as web:
    world = SearchWorld(web).serve()
    world.catalogue["bench"] = [Item(id=f"i{i:05d}", url=f"{images}/{i:05d}.jpg",
                                     page=f"https://art.example.org/p/{i}", title=f"bench {i}",
                                     creator=f"artist{i % 37}") for i in range(n)]
    open(port_file, "w").write(web.base)
    while True:
        time.sleep(1)
"""


def start_engine(images: str, n: int, tmp: Path) -> tuple[subprocess.Popen, str]:
    url_file = tmp / "engine.url"
    proc = subprocess.Popen([sys.executable, "-c", ENGINE_SERVER, images, str(n), str(url_file)],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    for _ in range(300):
        if url_file.exists() and url_file.read_text():
            return proc, url_file.read_text()
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the fake engine did not start")


def anchor(urls: list[str], out: Path, fetch: FetchOptions) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    with Fetcher(fetch) as fetcher:
        ok = sum(fetcher.map(urls, lambda url, r: r.ok and store_bytes(r.data, out)[0].ok))
    return time.process_time() - cpu, time.perf_counter() - wall, ok


def search(engine_url: str, engine: str, n: int, out: Path, fetch: FetchOptions,
           once: bool = False) -> tuple[float, float, int]:
    """The collector as ``harvest search`` runs it (the appender merges into the manifest every 200
    rows and 5 s), or with ``once`` writing the manifest once at the end."""
    options = SearchOptions(("bench",), label="bench", engine=engine, limit=n, engine_url=engine_url,
                            env=KEYS, api_interval=0, fetch=fetch, contact="bench@example.org")
    batches = {"batch_size": n + 1, "interval": float("inf")} if once else {}
    cpu, wall = time.process_time(), time.perf_counter()
    with Appender(out / "manifest.csv", **batches) as sink:
        summary = SearchCollector(options).run(sink)
    return time.process_time() - cpu, time.perf_counter() - wall, summary.statuses.get("ok", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--size", type=int, nargs=2, default=(1024, 768))
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--engine", default="wikimedia", choices=("wikimedia", "openverse", "flickr",
                                                                   "serpapi"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fetch = FetchOptions(workers=args.workers, per_host=args.workers, allow_private=True)  # 127.0.0.1
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        total = make_images(tmp_path / "served", args.n, tuple(args.size))
        images, port = serve(tmp_path / "served")
        engine, engine_url = start_engine(f"http://127.0.0.1:{port}", args.n, tmp_path)
        try:
            urls = [f"http://127.0.0.1:{port}/{i:05d}.jpg" for i in range(args.n)]
            runs: dict[str, list[tuple[float, float, int]]] = {"anchor": [], "search": [], "once": []}
            for r in range(args.repeat):
                runs["anchor"].append(anchor(urls, tmp_path / f"a{r}", fetch))
                runs["search"].append(search(engine_url, args.engine, args.n, tmp_path / f"s{r}", fetch))
                runs["once"].append(search(engine_url, args.engine, args.n, tmp_path / f"o{r}", fetch,
                                           once=True))
            a, s, o = (min(runs[k]) for k in ("anchor", "search", "once"))
            print(f"cores: {os.cpu_count()}, {args.n} results ({args.engine} shape), "
                  f"{args.size[0]}x{args.size[1]} JPEG, mean {total / args.n / 1024:.0f} KiB, "
                  f"{args.workers} workers, best of {args.repeat}")
            print("| fetcher + store alone | harvest search, manifest merged every 200 rows / 5 s "
                  "| ratio CPU (wall) | harvest search, manifest written once | ratio CPU (wall) |")
            print("|---|---|---|---|---|")
            print(f"| {a[0]:.2f} CPU s, {a[1]:.2f} s, {a[2]} ok | {s[0]:.2f} CPU s, {s[1]:.2f} s, "
                  f"{s[2]} ok | {s[0] / a[0]:.3f}x ({s[1] / a[1]:.3f}x) | {o[0]:.2f} CPU s, {o[1]:.2f} s, "
                  f"{o[2]} ok | {o[0] / a[0]:.3f}x ({o[1] / a[1]:.3f}x) |")
            print("all runs (CPU s): " + "; ".join(
                f"{k} " + ", ".join(f"{x[0]:.2f}" for x in v) for k, v in runs.items()))
        finally:
            for proc in (engine, images):
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
