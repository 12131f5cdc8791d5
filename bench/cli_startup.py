"""Benchmark: CPU seconds of ``harvest --help``, ``curate --help``, ``train --help`` and ``--version``,
this tree against an earlier commit (before the heavy imports moved into the commands), side by side.

Each command runs in a fresh interpreter (``python -c "from harvest.cli import main; main([...])"``
with only that tree on ``PYTHONPATH``), ``--repeat`` times, in alternation; the figure is the median of
the child's user+system CPU seconds (``resource.getrusage(RUSAGE_CHILDREN)``), which a busy shared
box disturbs far less than wall time. The anchor ``python -c pass`` is the interpreter's own start.
The earlier tree is exported with ``git archive`` into a temporary folder. Prints a Markdown table.

    .venv/bin/python bench/cli_startup.py [--before ae7a07c] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [("harvest", ["--help"]), ("curate", ["--help"]), ("train", ["--help"]),
            ("train", ["--version"])]


def cpu_seconds(tree: Path | None, code: str) -> float:
    """User+system CPU seconds of one fresh interpreter running ``code`` on ``tree``."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], cwd=tree or ROOT, env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def export(ref: str, into: Path) -> Path:
    """The files of commit ``ref`` in a folder (byte-compiled once, as an installed tree would be)."""
    archive = into / "tree.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "archive", ref], cwd=ROOT, stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into / "tree")], check=False)
    return into / "tree"


def command_code(prog: str, args: list[str]) -> str:
    return f"from {prog}.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="ae7a07c", help="commit to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = export(args.before, Path(tmp))
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "manifests"),
                        str(ROOT / "harvest"), str(ROOT / "curate"), str(ROOT / "train")], check=False)
        floor = statistics.median(cpu_seconds(None, "pass") for _ in range(args.repeat))
        print(f"anchor `python -c pass`: {floor:.3f} s CPU (median of {args.repeat})\n")
        print(f"| command | before ({args.before}) | now | before / now |")
        print("|---|---|---|---|")
        for prog, argv in COMMANDS:
            code = command_code(prog, argv)
            then, now = [], []
            for _ in range(args.repeat):  # alternate, so both see the same load
                then.append(cpu_seconds(old, code))
                now.append(cpu_seconds(ROOT, code))
            a, b = statistics.median(then), statistics.median(now)
            print(f"| `{prog} {' '.join(argv)}` | {a:.2f} s | {b:.2f} s | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
