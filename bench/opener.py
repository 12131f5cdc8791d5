"""Benchmark: the one image opener (``manifests.images``) against the code it replaced and a bare Pillow loop.

Three jobs run on the same generated files, each in a fresh process, in CPU seconds of the loop alone
(``time.process_time``; the box is shared, so wall time is noise):

- ``hash``: ``curate.dedupe.hashing.hash_files`` phash, one process, on 1920x1080 JPEGs and 640x480 PNGs;
- ``verify``: the image store's ``inspect_file`` (full decode) on small JPEGs (20 per 1080p one);
- ``train``: ``train.data.load_image`` (reduced decode, resize, centre crop) at 224 px.

Each job runs under three names: ``bare`` (the anchor: the same decode written with Pillow directly,
no checks), ``before`` (the tree given with ``--base``, e.g. a ``git archive`` of the commit before
the opener) and ``after`` (this tree); rounds alternate and the best of ``--rounds`` is kept.

    git archive ae7a07c | tar -x -C /tmp/base
    .venv/bin/python bench/opener.py --base /tmp/base [--n 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

JOBS = {
    "hash": """
from curate.dedupe import hashing
t = time.process_time()
out = list(hashing.hash_files(paths, "phash", 8, workers=1))
assert all(r[2] is None for r in out)
""",
    "verify": """
from harvest import store
t = time.process_time()
assert all(store.inspect_file(p).ok for p in paths)
""",
    "train": """
from train.data import load_image
from train.model import Preprocess
pre = Preprocess(224, 256)
t = time.process_time()
for p in paths:
    load_image(p, pre)
""",
}
BARE = {
    "hash": """
import imagehash
t = time.process_time()
for p in paths:
    with Image.open(p) as img:
        s = max(1, min(img.size) // 128)
        if s > 1:
            img.draft("L", (img.size[0] // s, img.size[1] // s))
        out = img.convert("L")
    f = min(out.size) // 128
    imagehash.phash(out.reduce(f) if f > 1 else out)
""",
    "verify": """
import hashlib
t = time.process_time()
for p in paths:
    data = open(p, "rb").read()
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as img:
        img.load()
""",
    "train": """
t = time.process_time()
for p in paths:
    with Image.open(p) as img:
        w, h = img.size
        img.draft("RGB", (w * 256 // min(w, h), h * 256 // min(w, h)))
        img = img.convert("RGB")
        img.resize((256, 256)).crop((16, 16, 240, 240))
""",
}
HEAD = "import io, json, sys, time\nfrom PIL import Image\npaths = json.loads(sys.argv[1])\n"
TAIL = "\nprint(time.process_time() - t)\n"


def make_files(root: Path, n: int) -> dict[str, list[str]]:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.transforms import scene

    big, small = root / "big", root / "small"
    big.mkdir()
    small.mkdir()
    for i in range(n):
        img = scene(1920, 1080, seed=i)
        img.save(big / f"{i}.jpg", quality=90)
        img.resize((640, 480)).save(big / f"{i}.png") if i % 4 == 0 else None
        for j in range(20):
            img.resize((64 + j, 48)).save(small / f"{i}_{j}.jpg", quality=85)
    bigs = sorted(str(p) for p in big.iterdir())
    return {"hash": bigs, "verify": sorted(str(p) for p in small.iterdir()), "train": bigs}


def cpu_seconds(code: str, tree: Path, paths: list[str]) -> float:
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", HEAD + code + TAIL, json.dumps(paths)], cwd=tree,
                         env=env, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the tree before the opener")
    parser.add_argument("--n", type=int, default=60, help="1080p JPEGs (and n/4 PNGs, 20n small JPEGs)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp), args.n)
        print("| job | files | bare Pillow (anchor) | before | after (manifests.images) | after / before "
              "| after / bare |")
        print("|---|---|---|---|---|---|---|")
        for job, paths in files.items():
            best = {"bare": 1e9, "before": 1e9, "after": 1e9}
            for _ in range(args.rounds):
                best["bare"] = min(best["bare"], cpu_seconds(BARE[job], ROOT, paths))
                best["before"] = min(best["before"], cpu_seconds(JOBS[job], args.base, paths))
                best["after"] = min(best["after"], cpu_seconds(JOBS[job], ROOT, paths))
            print(f"| {job} | {len(paths)} | {best['bare']:.2f} s | {best['before']:.2f} s | "
                  f"{best['after']:.2f} s | {best['after'] / best['before']:.2f}x | "
                  f"{best['after'] / best['bare']:.2f}x |")


if __name__ == "__main__":
    main()
