"""Benchmark: `harvest frames --every 48` against ffmpeg's bare decode and PySceneDetect, in one run.

For each generated input (720p and 1080p, H.264, 24 fps, letterbox bars and hard cuts) it times:

- ``ffmpeg -i X -f null -``: decoding alone, the least any frame extractor must do;
- ``harvest frames X --every 48``: the whole command (process start, crop detection, the one decoding
  pass with scene scoring on every frame, JPEG encoding, the image store and the manifest);
- ``scenedetect -i X detect-content save-images``: PySceneDetect (OpenCV decoding), which finds
  scenes and saves 3 images per scene but does not crop.

Each is run ``--repeat`` times and the best wall time and best CPU time (user + system of the command
and its children, less disturbed by other work on a shared machine) are kept. Prints Markdown rows for
BENCHMARKS.md.

    .venv/bin/python bench/frames.py [--seconds 30] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
REAL = ROOT.parent / "shared" / "fixtures" / "video" / "testvideo.mp4"


def make_movie(path: Path, size: tuple[int, int], seconds: int) -> int:
    """Segments of three lavfi sources (a hard cut every few seconds), letterboxed; returns frames."""
    w, h = size
    inner = h * 3 // 4 // 2 * 2
    part = max(1, seconds // 6)
    sources = ["testsrc2", "mandelbrot", "sierpinski=seed=3"] * 2
    inputs, chains = [], []
    for i, src in enumerate(sources):
        name, _, opts = src.partition("=")
        inputs += ["-f", "lavfi", "-i", f"{name}=size={w}x{inner}:rate=24" + (f":{opts}" if opts else "")]
        chains.append(f"[{i}:v]trim=duration={part},setpts=PTS-STARTPTS,format=yuv420p[s{i}]")
    graph = ";".join(chains) + ";" + "".join(f"[s{i}]" for i in range(len(sources)))
    graph += f"concat=n={len(sources)}:v=1:a=0,pad={w}:{h}:0:{(h - inner) // 2}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "20", "-g", "48", "-pix_fmt", "yuv420p", str(path)],
                   check=True)
    return part * len(sources) * 24


def make_real(path: Path, seconds: int, source: Path = REAL) -> int:
    """Real footage: ``source`` (PySceneDetect's test clip, 1280x720 H.264) scaled to 1080p and looped
    to ``seconds``; returns the number of frames. Generated here, never committed."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source),
                    "-t", str(seconds), "-vf", "scale=1920:1080", "-an", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", str(path)], check=True)
    return _count(path)


def timed(args: list[str], repeat: int, env: dict[str, str] | None = None,
          before: object = None, cwd: Path | None = None) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system, children included) over ``repeat`` runs."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        if callable(before):
            before()
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                       cwd=cwd)
        wall = min(wall, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
    return wall, cpu


def bench_one(name: str, movie: Path, frames: int, work: Path, repeat: int, with_sd: bool = True) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bare = timed(["ffmpeg", "-v", "error", "-i", str(movie), "-f", "null", "-"], repeat)
    out = work / f"{name}-harvest"
    harvest = timed([sys.executable, "-c", "from harvest.cli import main; main()", "frames", str(movie),
                     "--every", "48", "-m", str(out / "manifest.csv"), "--json"], repeat, env,
                    before=lambda: shutil.rmtree(out, ignore_errors=True))
    if not with_sd:
        return (f"| {name} | {frames} | {bare[0]:.2f} s ({bare[1]:.2f}) | {harvest[0]:.2f} s "
                f"({harvest[1]:.2f}) | {harvest[0] / bare[0]:.2f}x ({harvest[1] / bare[1]:.2f}x) | "
                f"{frames / harvest[0]:.0f} | - | - |")
    scenedetect = shutil.which("scenedetect", path=str(Path(sys.executable).parent)) or "scenedetect"
    sd_out = work / f"{name}-sd"
    sd = timed([scenedetect, "-i", str(movie), "-o", str(sd_out), "detect-content", "save-images"],
               repeat, before=lambda: shutil.rmtree(sd_out, ignore_errors=True))
    return (f"| {name} | {frames} | {bare[0]:.2f} s ({bare[1]:.2f}) | {harvest[0]:.2f} s ({harvest[1]:.2f}) "
            f"| {harvest[0] / bare[0]:.2f}x ({harvest[1] / bare[1]:.2f}x) | {frames / harvest[0]:.0f} "
            f"| {sd[0]:.2f} s ({sd[1]:.2f}) | {sd[0] / harvest[0]:.2f}x ({sd[1] / harvest[1]:.2f}x) |")


def versus(movie: Path, work: Path, repeat: int, baseline: Path) -> str:
    """This tree's harvest against another tree's (``--baseline``: an older checkout), with the bare
    decode, interleaved in one run so that the shared machine's load falls on all three alike."""
    rows: dict[str, list[float]] = {"decode": [], "baseline": [], "this": []}
    for _ in range(repeat):
        rows["decode"].append(timed(["ffmpeg", "-v", "error", "-i", str(movie), "-f", "null", "-"], 1)[1])
        for key, root in (("baseline", baseline), ("this", ROOT)):
            out = work / f"versus-{key}"
            env = {**os.environ, "PYTHONPATH": str(root)}
            rows[key].append(timed([sys.executable, "-c", "from harvest.cli import main; main()", "frames",
                                    str(movie), "--every", "48", "-m", str(out / "manifest.csv"), "--json"],
                                   1, env, before=lambda out=out: shutil.rmtree(out, ignore_errors=True),
                                   cwd=root)[1])  # `python -c` puts the working folder first on the path
    best = {k: min(v) for k, v in rows.items()}
    ratio = {k: best[k] / best["decode"] for k in ("baseline", "this")}
    return (f"| {movie.name} | {best['decode']:.2f} | {best['baseline']:.2f} ({ratio['baseline']:.2f}x) "
            f"| {best['this']:.2f} ({ratio['this']:.2f}x) |")


def breakdown(movie: Path, repeat: int) -> str:
    """Where harvest's CPU goes beyond the bare decode: its ffmpeg pass alone (outputs discarded),
    and the same pass with cheaper scene thumbnails (``fast_bilinear``, ``neighbor``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = ("import sys; from harvest.video.decode import DecodePlan, Selection, VideoDecoder; "
              "from harvest.video.probe import probe, CropBox; info = probe(sys.argv[1]); "
              "d = VideoDecoder(info, DecodePlan(Selection(every=48), CropBox(info.width, info.height), "
              "(info.width, info.height))); print(' '.join(d.command(3)))")
    args = subprocess.run([sys.executable, "-c", script, str(movie)], env=env, check=True,
                          capture_output=True, text=True).stdout.split()
    args = [a.replace("pipe:1", "/dev/null").replace("pipe:3", "/dev/null") for a in args] + ["-y"]
    cells = [f"bare {timed(['ffmpeg', '-v', 'error', '-i', str(movie), '-f', 'null', '-'], repeat)[1]:.2f}"]
    for flags in ("area", "fast_bilinear", "neighbor"):
        variant = [a.replace("flags=area", f"flags={flags}") for a in args]
        cells.append(f"pass/{flags} {timed(variant, repeat)[1]:.2f}")
    return "CPU s: " + ", ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sizes", default="720p,1080p,real",
                        help="generated 720p/1080p inputs and 'real' (shared testvideo.mp4 at 1080p)")
    parser.add_argument("--work", type=Path, help="keep generated inputs here and reuse them")
    parser.add_argument("--no-scenedetect", action="store_true", help="skip the PySceneDetect column")
    parser.add_argument("--breakdown", action="store_true", help="also time harvest's ffmpeg pass alone")
    parser.add_argument("--baseline", type=Path, help="another checkout's harvest to compare with (CPU s)")
    args = parser.parse_args()
    print("wall time (CPU seconds)")
    print("| input | frames | ffmpeg decode | harvest frames --every 48 | harvest / decode | frames/s | "
          "PySceneDetect | PySceneDetect / harvest |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.sizes.split(","):
            movie = work / f"{name}-{args.seconds}s.mp4"
            if name == "real" and not REAL.exists():
                print(f"| real | skipped: {REAL} is absent |")
                continue
            if movie.exists():
                frames = _count(movie)
            else:
                frames = (make_real(movie, args.seconds) if name == "real"
                          else make_movie(movie, SIZES[name], args.seconds))
            print(bench_one(name, movie, frames, work, args.repeat, not args.no_scenedetect), flush=True)
            if args.baseline:
                print("| input | decode CPU s | baseline harvest CPU s | this harvest CPU s |")
                print(versus(movie, work, args.repeat, args.baseline), flush=True)
            if args.breakdown:
                print(breakdown(movie, args.repeat), flush=True)


def _count(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


if __name__ == "__main__":
    main()
