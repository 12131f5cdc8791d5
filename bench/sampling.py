"""Benchmark: `harvest frames --sampling exact|reference|keyframes` and the decoders (issue 28), in CPU
seconds against a bare `ffmpeg -f null` full decode of the same file in the same run.

Three kinds of 1080p H.264 footage, generated into a cache folder (never committed):

- ``grainy``: live-action-like, ``testsrc2`` and ``mandelbrot`` shots with temporal film grain
  (``noise=alls=8:allf=t``), expensive to decode;
- ``upscaled``: an SD picture (640x360, ``mandelbrot`` and ``testsrc2`` shots, or the shared real
  clip) scaled up to 1080p, cheap to decode;
- ``real``: the frames benchmark's clip, the shared real footage ``fixtures/video/testvideo.mp4``
  scaled to 1080p (``bench/frames.py``'s ``make_real``; the ``mandelbrot`` movie of ``bench/frames.py``
  when the shared fixtures are absent).

x264 veryfast, CRF 20, a key frame every 48 frames (B-frames on: x264's default), 24 fps. For each
clip it times, interleaved ``--repeat`` times (best CPU of each kept):

- ``ffmpeg -v error -i X -f null -`` (the anchor),
- ``harvest frames X --every 48 --sampling P --decoder D`` for each policy P and decoder D, as a whole
  command (process start, crop detection, the decoding pass with scene scoring, JPEGs, the manifest).

and, per policy, how far its scene starts land from ``exact``'s (frames off, cuts missed). Prints
Markdown rows for BENCHMARKS.md. Run it niced, one at a time, on a shared machine::

    nice -n 10 .venv/bin/python bench/sampling.py --seconds 20 --repeat 2 [--work ~/.cache/gleanset-bench]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from frames import REAL, _count, make_movie, make_real, timed

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gleanset-bench"
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "48", "-pix_fmt", "yuv420p"]


def make_grainy(path: Path, seconds: int) -> None:
    """Shots of testsrc2 and mandelbrot at 1080p with strong temporal grain: costly to decode."""
    part = max(1, seconds // 4)
    inputs, chains = [], []
    for i, src in enumerate(["testsrc2", "mandelbrot", "testsrc2", "mandelbrot"]):
        inputs += ["-f", "lavfi", "-i", f"{src}=size=1920x1080:rate=24"]
        chains.append(f"[{i}:v]trim=duration={part},setpts=PTS-STARTPTS,format=yuv420p"
                      f"{',hue=h=90' if i == 2 else ''}[s{i}]")
    graph = ";".join(chains) + ";" + "".join(f"[s{i}]" for i in range(4)) + \
        "concat=n=4:v=1:a=0,noise=alls=8:allf=t"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, *X264, str(path)],
                   check=True)


def make_upscaled(path: Path, seconds: int) -> None:
    """An SD film scaled up to 1080p: the shared real clip at 640x360, else lavfi shots at 640x360."""
    if REAL.exists():
        source = ["-stream_loop", "-1", "-i", str(REAL)]
        chain = "scale=640:360,scale=1920:1080:flags=bicubic"
    else:
        source = ["-f", "lavfi", "-i", "mandelbrot=size=640x360:rate=24"]
        chain = "scale=1920:1080:flags=bicubic"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *source, "-t", str(seconds), "-vf", chain, "-an", "-r",
                    "24", *X264, str(path)], check=True)


def clip(kind: str, seconds: int, work: Path) -> Path:
    """The clip of this kind in ``work``, generated on first use."""
    path = work / f"{kind}-{seconds}s.mp4"
    if path.exists():
        return path
    if kind == "grainy":
        make_grainy(path, seconds)
    elif kind == "upscaled":
        make_upscaled(path, seconds)
    elif REAL.exists():
        make_real(path, seconds)
    else:
        make_movie(path, (1920, 1080), seconds)
    return path


def harvest_args(movie: Path, out: Path, sampling: str, decoder: str) -> list[str]:
    return [sys.executable, "-c", "from harvest.cli import main; main()", "frames", str(movie), "--every",
            "48", "--sampling", sampling, "--decoder", decoder, "-m", str(out / "manifest.csv"),
            "--scenes-csv", str(out / "scenes.csv"), "--json"]


def scene_starts(out: Path) -> list[int]:
    lines = (out / "scenes.csv").read_text().splitlines()[1:]
    return sorted(int(line.split(",")[2]) for line in lines)


def compare(exact: list[int], other: list[int], tolerance: int = 48) -> str:
    """Cuts of ``exact`` (after the first scene) matched to the nearest of ``other`` within
    ``tolerance`` frames: how many were missed, the mean and the largest distance of those found."""
    cuts, found = exact[1:], other[1:]
    offsets = [min((abs(c - f) for f in found), default=tolerance + 1) for c in cuts]
    hit = [o for o in offsets if o <= tolerance]
    extra = len(found) - len(hit)
    mean = sum(hit) / len(hit) if hit else 0.0
    return (f"{len(cuts) - len(hit)} of {len(cuts)} missed, {max(extra, 0)} extra, frames off "
            f"mean {mean:.1f} max {max(hit, default=0)}")


def bench(kind: str, movie: Path, work: Path, repeat: int, runs: list[tuple[str, str]]) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cpu: dict[str, list[float]] = {"bare": []}
    for _ in range(repeat):
        cpu["bare"].append(timed(["ffmpeg", "-v", "error", "-i", str(movie), "-f", "null", "-"], 1)[1])
        for sampling, decoder in runs:
            out = work / f"out-{kind}-{sampling}-{decoder}"
            cpu.setdefault(f"{sampling}/{decoder}", []).append(
                timed(harvest_args(movie, out, sampling, decoder), 1, env, cwd=ROOT,
                      before=lambda out=out: shutil.rmtree(out, ignore_errors=True))[1])
    bare = min(cpu["bare"])
    rows = [f"| {kind} | {_count(movie)} | {bare:.2f} |"]
    exact_out = work / f"out-{kind}-exact-{runs[0][1]}"
    exact = scene_starts(exact_out) if (exact_out / "scenes.csv").exists() else []
    for sampling, decoder in runs:
        best = min(cpu[f"{sampling}/{decoder}"])
        out = work / f"out-{kind}-{sampling}-{decoder}"
        scenes = scene_starts(out)
        rows.append(f"|  | {sampling} / {decoder} | {best:.2f} ({best / bare:.2f}x) | {len(scenes)} scenes; "
                    f"{compare(exact, scenes) if exact else '-'} |")
    return rows


PASS = """
import resource, sys, time
from dataclasses import replace
from harvest.video.decode import DecodePlan, Selection
from harvest.video.decoders import open_decoder
from harvest.video.probe import CropBox, probe
from harvest.video.pipeline import scene_rules
from harvest.video.options import FrameOptions
info = probe(sys.argv[1])
box = CropBox(info.width, info.height)
plan = DecodePlan(Selection(every=48), box, (box.w, box.h), rules=scene_rules(FrameOptions(), info.fps),
                  sampling=sys.argv[2], decoder=sys.argv[3])
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
start = cpu()
with open_decoder(info, plan) as decoder:
    kept = sum(1 for _ in decoder)
    decoder.finish()
print(cpu() - start, kept, decoder.state.decoded)
"""


def passes(kind: str, movie: Path, repeat: int, runs: list[tuple[str, str]]) -> list[str]:
    """The decoding pass alone (no process start, probe, crop detection, JPEGs or manifest), in one
    process each, CPU of the process and its children, against the bare decode, interleaved."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cpu: dict[str, list[float]] = {"bare": []}
    info: dict[str, str] = {}
    for _ in range(repeat):
        cpu["bare"].append(timed(["ffmpeg", "-v", "error", "-i", str(movie), "-f", "null", "-"], 1)[1])
        for sampling, decoder in runs:
            out = subprocess.run([sys.executable, "-c", PASS, str(movie), sampling, decoder], env=env,
                                 cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
            cpu.setdefault(f"{sampling}/{decoder}", []).append(float(out[0]))
            info[f"{sampling}/{decoder}"] = f"{out[1]} kept of {out[2]} decoded"
    bare = min(cpu["bare"])
    rows = [f"| {kind} (pass alone) | {_count(movie)} | {bare:.2f} |"]
    for key, values in cpu.items():
        if key != "bare":
            rows.append(f"|  | {key} | {min(values):.2f} ({min(values) / bare:.2f}x) | {info[key]} |")
    return rows


FIXED = """
import resource, sys
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
import harvest.cli, harvest.video.pipeline, manifests
imports = cpu()
from harvest.video.probe import detect_crop, probe
info = probe(sys.argv[1])
detect_crop(info)
print(imports, cpu() - imports)
"""


def fixed(kind: str, movie: Path, repeat: int) -> str:
    """The work a command does whatever the policy: Python start and imports, probe and crop detection."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", FIXED, str(movie)], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
        best = [min(b, float(o)) for b, o in zip(best, out, strict=True)]
    return (f"| {kind} (fixed) | start-up and imports {best[0]:.2f} | probe and crop detection "
            f"{best[1]:.2f} | |")


def scenes_of(kind: str, movie: Path, work: Path) -> list[str]:
    """Scene starts of each policy against ``exact``'s on one clip (no timing): cuts missed, extra,
    frames off."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    starts = {}
    for sampling in ("exact", "reference", "keyframes"):
        out = work / f"scenes-{kind}-{sampling}"
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run(harvest_args(movie, out, sampling, "pyav"), env=env, cwd=ROOT, check=True,
                       capture_output=True)
        starts[sampling] = scene_starts(out)
    return [f"| {kind} | {sampling} | {len(starts[sampling])} scenes | "
            f"{compare(starts['exact'], starts[sampling])} |" for sampling in ("reference", "keyframes")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--kinds", default="grainy,upscaled,real")
    parser.add_argument("--runs", default="exact/ffmpeg,exact/pyav,reference/pyav,keyframes/pyav",
                        help="sampling/decoder pairs, the first one exact (its scenes are the reference)")
    parser.add_argument("--work", type=Path, default=CACHE, help="generated clips are kept here")
    parser.add_argument("--passes", action="store_true", help="time the decoding passes alone instead")
    parser.add_argument("--fixtures", action="store_true",
                        help="only compare the policies' scenes on the shared fixture clips")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    runs = [tuple(r.split("/")) for r in args.runs.split(",")]
    if args.fixtures:
        for movie in sorted(REAL.parent.glob("*.mp4")):
            for row in scenes_of(movie.stem, movie, args.work):
                print(row, flush=True)
        return
    print("| clip | frames / run | CPU s (x bare decode) | scenes |")
    print("|---|---|---|---|")
    for kind in args.kinds.split(","):
        movie = clip(kind, args.seconds, args.work)
        rows = [*passes(kind, movie, args.repeat, runs), fixed(kind, movie, args.repeat)] if args.passes \
            else bench(kind, movie, args.work, args.repeat, runs)  # type: ignore[arg-type]
        for row in rows:
            print(row, flush=True)


if __name__ == "__main__":
    main()
