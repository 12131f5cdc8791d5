"""What trusting nothing costs: gzip bombs (peak memory) and manifest reads (CPU), against anchors.

1. Parallel gzip bombs. A local server (``http.server`` in a child process, 127.0.0.1) serves ``--bombs``
   bodies of ``--bomb-mib`` MiB of zeros, gzip-encoded (a few hundred KiB on the wire each). Each side
   downloads them all with ``--bombs`` threads in a fresh process, and we read that process's peak RSS
   (``ru_maxrss``) and CPU seconds:

   - anchor ``requests``: ``requests.get(url).content`` per thread (what a plain client does);
   - gleanset: ``Fetcher.map`` with its defaults (decoded cap, ratio cap, memory budget).

2. Reading a manifest of ``--rows`` rows: ``pandas.read_csv`` with the same dtypes (anchor) against
   ``manifests.read`` (dtypes, the manifest check, the sha256 check), CPU seconds, best of 3.

Prints Markdown rows: peak RSS and CPU-s side by side with the ratio (gleanset / anchor).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLIENT = r"""
import json, resource, sys, time
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, sys.argv[3])
urls = json.loads(sys.argv[2])
if sys.argv[1] == "requests":
    import requests
    def get(url):
        return len(requests.get(url, timeout=60).content)
    with ThreadPoolExecutor(len(urls)) as pool:
        sizes = list(pool.map(get, urls))
else:
    from harvest.fetch import Fetcher, FetchOptions
    opts = FetchOptions(workers=len(urls), per_host=len(urls), allow_private=True)
    with Fetcher(opts) as fetcher:
        sizes = [r.status for r in fetcher.map(urls, lambda u, r: r)]
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rss_mib": u.ru_maxrss / 1024, "cpu_s": u.ru_utime + u.ru_stime, "out": sizes[:2]}))
"""


def serve(root: Path) -> tuple[subprocess.Popen, int]:
    server = root / "server.py"
    server.write_text(
        "import sys, http.server\n"
        "class H(http.server.SimpleHTTPRequestHandler):\n"
        "    def end_headers(self):\n"
        "        self.send_header('Content-Encoding', 'gzip')\n"
        "        super().end_headers()\n"
        "    def log_message(self, *a):\n"
        "        pass\n"
        "http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])),"
        " lambda *a: H(*a, directory=sys.argv[2])).serve_forever()\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(server), str(port), str(root / "www")])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def bombs(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        body = gzip.compress(b"\0" * (args.bomb_mib * 1024 * 1024), compresslevel=9)
        for i in range(args.bombs):
            (root / "www" / f"b{i}.jpg").write_bytes(body)
        proc, port = serve(root)
        urls = json.dumps([f"http://127.0.0.1:{port}/b{i}.jpg" for i in range(args.bombs)])
        try:
            results = {}
            for side in ("requests", "gleanset"):
                out = subprocess.run([sys.executable, "-c", CLIENT, side, urls,
                                      str(Path(__file__).resolve().parents[1])],
                                     capture_output=True, text=True, check=True)
                results[side] = json.loads(out.stdout)
        finally:
            proc.kill()
            proc.wait()
    a, g = results["requests"], results["gleanset"]
    print(f"| {args.bombs} parallel gzip bombs, {args.bomb_mib} MiB each ({len(body) // 1024} KiB on "
          f"the wire) | peak RSS MiB | {a['rss_mib']:.0f} | {g['rss_mib']:.0f} | "
          f"{g['rss_mib'] / a['rss_mib']:.3f} |")
    print(f"| same | CPU-s | {a['cpu_s']:.2f} | {g['cpu_s']:.2f} | {g['cpu_s'] / a['cpu_s']:.3f} |")


def reads(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    import manifests
    from manifests import schema

    rng = np.random.default_rng(0)
    n = args.rows
    frame = manifests.conform(pd.DataFrame({
        schema.SHA256: [f"{v:064x}" for v in rng.integers(0, 2**62, n)],
        schema.PATH: [f"images/{i}.jpg" for i in range(n)], schema.LABEL: rng.choice(["a", "b"], n),
        schema.WIDTH: rng.integers(1, 999, n), schema.HEIGHT: rng.integers(1, 999, n),
        schema.STATUS: "ok"}))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.csv"
        manifests.write(frame, path)
        header = list(pd.read_csv(path, nrows=0).columns)
        dtypes = {c: ("string" if schema.dtype_of(c) in (schema.STRING, schema.BOOL)
                      else schema.dtype_of(c)) for c in header}
        sides = {"pandas.read_csv": lambda: pd.read_csv(path, dtype=dtypes, keep_default_na=False,
                                                        na_values=[""]),
                 "manifests.read": lambda: manifests.read(path)}
        best = {}
        for name, fn in sides.items():
            times = []
            for _ in range(3):
                start = time.process_time()
                fn()
                times.append(time.process_time() - start)
            best[name] = min(times)
    a, g = best["pandas.read_csv"], best["manifests.read"]
    print(f"| read a {n:,}-row manifest | CPU-s (best of 3) | {a:.3f} | {g:.3f} | {g / a:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bombs", type=int, default=16)
    parser.add_argument("--bomb-mib", type=int, default=64)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print("| case | measure | anchor | gleanset | ratio |")
    print("|---|---|---|---|---|")
    bombs(args)
    reads(args)
    print(f"\n(os.cpu_count() = {os.cpu_count()}, ru_maxrss of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB)")


if __name__ == "__main__":
    main()
