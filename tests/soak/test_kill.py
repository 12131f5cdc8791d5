"""Kill -9 each long command at random points, again and again, and check that nothing is lost.

For every command (``harvest folder`` with a process pool, ``harvest frames``, ``curate dedupe``,
``curate split``, ``curate augment``, ``curate export``) a clean run gives the reference (for export,
the export folder, file by file). Then, on a fresh copy of the inputs, the command
is started and killed with ``SIGKILL`` after a random fraction of the clean run's time, ``SOAK_N``
times (default 5), each restart resuming what the last left. After every kill:

- the manifest reads (``manifests.read``), no usable row appears twice, and no row the previous
  kill left is lost;
- the lineage log's lines are all valid JSON;
- no process of the killed command's process group is left (pool workers die with their parent).

After the last kill a rerun to the end must equal the clean run, with no temporary file left beside
the manifest or in the image store and no image file that no row names. Each anomaly is recorded;
the figures go to ``$SOAK_REPORT`` (JSON) when set, for docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import manifests
from manifests import schema
from tests.fixtures import media
from tests.fixtures.video import make_video

pytestmark = [pytest.mark.slow, pytest.mark.soak]

N = int(os.environ.get("SOAK_N", "5"))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
REPORT: dict[str, dict] = {}

CLI = {"harvest": "from harvest.cli import main; main()", "curate": "from curate.cli import main; main()"}


def _inputs(root: Path) -> None:
    for i in range(160):
        media.write(root / "shots" / f"class{i % 4}" / f"{i:03d}.png", media.png(i, (48, 36)))
    make_video(root / "clip.mp4", [("testsrc2", 60), ("mandelbrot", 60), ("sierpinski=seed=3", 60)])


def _prepared(root: Path) -> None:
    """A dataset for the curate commands: the folder imported into data/manifest.csv."""
    _run(root, ["harvest", "folder", "shots", "-m", "data/manifest.csv", "--copy", "-j", "2"])


COMMANDS: dict[str, tuple[list[str], list[str], bool]] = {
    # name: (command line, key columns compared with the clean run, needs the prepared dataset)
    "harvest folder": (["harvest", "folder", "shots", "-m", "data/manifest.csv", "--copy", "-j", "2"],
                       [schema.SHA256, schema.PATH, schema.LABEL, schema.STATUS], False),
    "harvest frames": (["harvest", "frames", "clip.mp4", "--every", "3", "-m", "data/manifest.csv"],
                       [schema.SHA256, schema.FRAME, schema.SCENE, schema.STATUS], False),
    "curate dedupe": (["curate", "dedupe", "data/manifest.csv", "-j", "2", "--threshold", "12"],
                      [schema.SHA256, schema.STATUS, schema.DUP_OF, schema.PHASH], True),
    "curate split": (["curate", "split", "data/manifest.csv", "--random"],
                     [schema.SHA256, schema.SPLIT], True),
    # every image is its own scarce value: one augmented copy each, written through the store
    "curate augment": (["curate", "augment", "data/manifest.csv", "--by", "sha256", "--to-share", "0.03",
                        "--max-copies", "1"], [schema.SHA256, schema.STATUS, schema.PATH], True),
    # the export folder is compared (EXPORTS), the manifest must stay as it was
    "curate export": (["curate", "export", "data/manifest.csv", "data/export", "--format", "imagefolder",
                       "--unsplit", "train", "--copy"], [schema.SHA256, schema.STATUS, schema.PATH], True),
}
EXPORTS = {"curate export": "data/export"}  # commands whose output is a folder: compared file by file


def _start(root: Path, argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLI[argv[0]], *argv[1:]], cwd=root, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _run(root: Path, argv: list[str]) -> float:
    began = time.monotonic()
    proc = _start(root, argv)
    assert proc.wait(timeout=600) == 0, f"{argv} failed in {root}"
    return time.monotonic() - began


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _non_zombies(pgid)


def _non_zombies(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _keys(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    present = [c for c in columns if c in frame.columns]
    return frame[present].astype("string").fillna("").sort_values(present).reset_index(drop=True)


def _check_after_kill(manifest: Path, before: set[str], anomalies: list[str], pgid: int) -> set[str]:
    for _ in range(100):  # bounded: 10 s for the kernel to take the workers down
        if not _group_alive(pgid):
            break
        time.sleep(0.1)
    else:
        anomalies.append("processes of the killed command outlived it")
        os.killpg(pgid, signal.SIGKILL)
    try:
        frame = manifests.read(manifest)
    except manifests.ManifestError as exc:
        anomalies.append(f"manifest unreadable: {exc}")
        return before
    ok = frame[frame[schema.STATUS] == schema.OK]
    if ok[schema.SHA256].duplicated().any():
        anomalies.append("a usable row appears twice")
    now = set(frame[schema.SHA256].dropna())
    if before - now:
        anomalies.append(f"{len(before - now)} rows lost")
    log = manifests.log_path(manifest)
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                json.loads(line)
            except json.JSONDecodeError:
                anomalies.append(f"torn lineage line: {line[:60]!r}")
    return now | before


def _leftovers(data: Path, frame: pd.DataFrame) -> list[str]:
    found = [p.name for p in data.glob(".*.tmp")] + [p.name for p in data.rglob(".*.part")]
    images = data / "images"
    named = {str((data / p).resolve()) for p in frame[schema.PATH].dropna()}
    if images.is_dir():
        found += [f"orphan {p.name}" for p in images.rglob("*") if p.is_file()
                  and not p.name.startswith(".") and str(p.resolve()) not in named]
    return found


def _folder(root: Path) -> dict[str, str]:
    """Every file under ``root`` (but the export's own state file) by relative path: its sha256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".gleanset-export.json"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("soak-inputs")
    _inputs(root)
    return root


@pytest.fixture(scope="module", autouse=True)
def _report() -> None:
    yield
    target = os.environ.get("SOAK_REPORT")
    if target:
        Path(target).write_text(json.dumps(REPORT, indent=2))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_kill_nine_loses_nothing(name: str, inputs: Path, tmp_path: Path) -> None:
    argv, columns, prepared = COMMANDS[name]
    clean, soak = tmp_path / "clean", tmp_path / "soak"
    for root in (clean, soak):
        shutil.copytree(inputs, root)
        if prepared:
            _prepared(root)
    seconds = _run(clean, argv)
    reference = _keys(manifests.read(clean / "data/manifest.csv"), columns)
    rng = random.Random(f"{name}-{N}")
    manifest, seen, anomalies, killed = soak / "data/manifest.csv", set(), [], 0
    for _ in range(N):
        proc = _start(soak, argv)
        try:
            proc.wait(timeout=rng.uniform(0.05, 1.0) * seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            killed += 1  # it was still running: a real kill mid-run
        seen = _check_after_kill(manifest, seen, anomalies, proc.pid)
    _run(soak, argv)
    final = manifests.read(manifest)
    if not _keys(final, columns).equals(reference):
        anomalies.append("the rerun after the kills differs from a clean run")
    if name in EXPORTS:
        got, want = _folder(soak / EXPORTS[name]), _folder(clean / EXPORTS[name])
        if got != want:
            anomalies.append(f"the export after the kills differs from a clean one: "
                             f"{sorted(set(got.items()) ^ set(want.items()))[:3]}")
    anomalies += [f"left behind: {p}" for p in _leftovers(manifest.parent, final)]
    REPORT[name] = {"kills": N, "killed_mid_run": killed, "clean_run_s": round(seconds, 2),
                    "rows": len(final), "anomalies": anomalies}
    assert anomalies == []
