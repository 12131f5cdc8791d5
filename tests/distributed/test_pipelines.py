"""Each data stage on a real Dask cluster gives the manifest the local executor gives, and a driver
killed mid-run resumes to the same manifest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import manifests
from curate.dedupe import DedupeOptions, dedupe
from harvest.folder import FolderCollector, FolderOptions
from harvest.video import FrameOptions, FramesCollector, FramesOptions
from manifests import Appender, schema
from manifests.executor import ExecutorSpec
from tests.fixtures import media
from tests.fixtures.video import make_video

KEY = [schema.SHA256, schema.STATUS, schema.LABEL, schema.PATH, schema.WIDTH, schema.HEIGHT, schema.ERROR]


def table(manifest: Path, extra: list[str] = ()) -> pd.DataFrame:
    frame = manifests.read(manifest)
    cols = [c for c in [*KEY, *extra] if c in frame.columns]
    return frame[cols].sort_values(cols[:4]).reset_index(drop=True)


def image_tree(root: Path, n: int) -> Path:
    for i in range(n):
        media.write(root / f"class{i % 3}" / f"{i:04d}.jpg", media.jpeg(i))
    media.write(root / "class0" / "broken.jpg", media.truncated_png())
    media.write(root / "class1" / "page.jpg", media.html_page())
    return root


def folder_run(root: Path, manifest: Path, executor: ExecutorSpec | None, workers: int = 1) -> None:
    with Appender(manifest) as sink:
        FolderCollector(FolderOptions(root=root, workers=workers, executor=executor)).run(sink)


def test_folder_import_on_dask_equals_local(dask: ExecutorSpec, tmp_path: Path) -> None:
    root = image_tree(tmp_path / "src", 150)
    folder_run(root, tmp_path / "local" / "m.csv", None)
    folder_run(root, tmp_path / "dask" / "m.csv", dask)
    local, remote = table(tmp_path / "local" / "m.csv"), table(tmp_path / "dask" / "m.csv")
    assert len(local) == 152 and (local[schema.STATUS] != schema.OK).sum() == 2
    pd.testing.assert_frame_equal(local, remote)


def test_frames_on_dask_equal_local(dask: ExecutorSpec, tmp_path: Path) -> None:
    videos = (make_video(tmp_path / "a.mp4", [("testsrc2", 20), ("mandelbrot", 20)]),
              make_video(tmp_path / "b.mp4", [("smptebars", 15), ("rgbtestsrc", 25)]))
    for name, executor in (("local", None), ("dask", dask)):
        with Appender(tmp_path / name / "m.csv") as sink:
            FramesCollector(FramesOptions(videos=videos, frames=FrameOptions(every=5),
                                          executor=executor)).run(sink)
    extra = [schema.FRAME, schema.SCENE, schema.CROP, schema.VIDEO]
    local, remote = table(tmp_path / "local" / "m.csv", extra), table(tmp_path / "dask" / "m.csv", extra)
    assert len(local) == 16 and local[schema.SCENE].nunique() == 4
    pd.testing.assert_frame_equal(local, remote)


def test_dedupe_hashing_and_search_on_dask_equal_local(dask: ExecutorSpec, tmp_path: Path) -> None:
    root = image_tree(tmp_path / "src", 130)
    for i in range(6):  # re-encoded copies: near-duplicates to find
        media.write(root / "class2" / f"copy{i}.png", media.png(i * 3, (64, 48)))
    folder_run(root, tmp_path / "m.csv", None)
    frame = manifests.read(tmp_path / "m.csv")
    local = dedupe(frame, tmp_path, DedupeOptions(workers=1)).frame
    remote = dedupe(frame, tmp_path, DedupeOptions(workers=1, executor=dask)).frame
    cols = [schema.SHA256, schema.PHASH, schema.STATUS, schema.DUP_OF, schema.DUP_CLUSTER]
    assert local[schema.PHASH].notna().sum() == 136
    pd.testing.assert_frame_equal(local[cols].reset_index(drop=True), remote[cols].reset_index(drop=True))


@pytest.mark.slow
def test_killed_driver_resumes_to_the_local_manifest(dask_cluster: str, tmp_path: Path) -> None:
    root = image_tree(tmp_path / "src", 900)
    with Appender(tmp_path / "local" / "m.csv") as sink:
        FolderCollector(FolderOptions(root=root, workers=1, copy=True)).run(sink)
    manifest = tmp_path / "dask" / "m.csv"
    store = manifest.parent / "images"
    argv = [sys.executable, "-c", "from harvest.cli import main; main()", "folder", str(root),
            "-m", str(manifest), "--copy", "--executor", "dask", "--cluster", dask_cluster, "--json"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:  # kill once workers stored some images
        if store.is_dir() and sum(1 for _ in store.rglob("*.jpg")) >= 100:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    partial = len(manifests.read(manifest)) if manifest.exists() else 0
    assert partial < 902, "the driver finished before it was killed: nothing was resumed"
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(table(tmp_path / "local" / "m.csv"), table(manifest))
