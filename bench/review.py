"""Benchmark: ``curate review`` opening a generated 100,000-row manifest in headless Chromium.

The manifest is ``bench/report.py``'s (10 classes, 3 splits, 5% failed rows, near-duplicate clusters,
label-quality columns), ``--rows`` rows pointing at ``--images`` real 640x480 JPEGs, each row its own
sha256, so every thumbnail is made from a real file the first time it is shown, and cached.

Measured, wall seconds from launching the command (``curate review manifest.csv``, a child process):
the URL printed; the first page of cards in the browser; the thumbnails on the first screen decoded
("open": the goal is under 3 seconds). Then scrolling: each further page of cards, and how many
thumbnails exist after scrolling ``--pages`` pages (only those shown are made, not one per row).
Then one decision: the click until its batch is in the manifest (a locked read and atomic write of
all rows). Anchor, same run: ``manifests.read`` of the manifest alone (what any app must pay).

    .venv/bin/python bench/review.py [--rows 100000] [--images 400] [--pages 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

import manifests
from manifests import schema

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import generate

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOWN = "() => [...document.querySelectorAll('.card img')].filter(i => i.getBoundingClientRect().top " \
        "< innerHeight)"


def cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(manifest: Path) -> tuple[subprocess.Popen[str], str, float]:
    """Launch the command; the URL and the seconds until it printed it."""
    began = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("curate")), "review", str(manifest)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.startswith("review at "):
            return proc, line.split()[-1], began
    raise SystemExit("curate review printed no URL")


def measure(manifest: Path, pages: int) -> list[tuple[str, float, float | None]]:
    out: list[tuple[str, float, float | None]] = []
    t, c = time.perf_counter(), time.process_time()
    manifests.read(manifest)
    out.append(("read the manifest alone (anchor)", time.perf_counter() - t, time.process_time() - c))
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900}).new_page()
        proc, url, began = start(manifest)
        try:
            mark = lambda name: out.append((name, time.perf_counter() - began, cpu(proc.pid)))  # noqa: E731
            mark("URL printed (process start, imports, read)")
            page.goto(url)
            page.locator(".card").nth(0).wait_for()
            mark("first page of cards shown")
            page.wait_for_function(f"({SHOWN})().every(i => i.complete && i.naturalWidth > 0)",
                                   timeout=60_000)
            shown = page.evaluate(f"({SHOWN})().length")
            mark(f"open: the {shown} thumbnails on the first screen decoded")
            for n in range(2, pages + 2):
                t, c = time.perf_counter(), cpu(proc.pid)
                page.mouse.wheel(0, 100_000)
                page.wait_for_function(f"document.querySelectorAll('.card').length >= {n * 120}")
                out.append((f"scroll: page {n} of cards", time.perf_counter() - t, cpu(proc.pid) - c))
            page.wait_for_timeout(2000)  # thumbnails of the last screen
            made = sum(1 for _ in (manifest.parent / ".cache" / "thumbs" / "128").rglob("*.jpg"))
            cards = page.evaluate("document.querySelectorAll('.card').length")
            out.append((f"thumbnails made after scrolling {cards} cards (of {len(manifests.read(manifest))} "
                        f"rows)", float(made), None))
            c = cpu(proc.pid)
            out.append(("one decision until written (a batch: locked read, atomic write)", decide(url),
                        cpu(proc.pid) - c))
        finally:
            proc.terminate()
            proc.wait()
        browser.close()
    return out


def decide(url: str) -> float:
    base, token = url.split("/?")[0], url.split("token=")[1]
    headers = {"X-Review-Token": token}
    sha = requests.get(base + "/api/rows", params={"limit": 1}, headers=headers, timeout=30).json()["rows"][0]
    t = time.perf_counter()
    requests.post(base + "/api/decide", json={"action": "label", "shas": [sha[schema.SHA256]],
                                              "value": "class9"}, headers=headers, timeout=30)
    while requests.get(base + "/api/state", headers=headers, timeout=30).json()["pending"]:
        time.sleep(0.05)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--pages", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate(Path(tmp), args.rows, args.images)
        rows = measure(manifest, args.pages)
    print(f"\n`bench/review.py --rows {args.rows} --images {args.images} --pages {args.pages}`\n")
    print("| step | wall s (or count) | CPU s of the server |\n|---|---|---|")
    for name, value, used in rows:
        shown = f"{value:.0f}" if used is None else f"{value:.2f}"
        print(f"| {name} | {shown} | {'' if used is None else f'{used:.2f}'} |")


if __name__ == "__main__":
    main()
