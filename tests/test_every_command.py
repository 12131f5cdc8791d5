"""Every command of every CLI, once, as a user runs it (issue 26, item 2).

The commands are listed from the Typer apps themselves (``harvest``, ``curate``, ``train``), so a new
command is run here without anyone adding it: with the arguments :data:`ARGS` gives it, else with the
manifest alone. Each runs through its installed entry point (the console script beside this Python) in
a child process whose stdout and stderr are pipes, not a TTY. The verdict: exit 0, no traceback, and a
non-empty summary (something printed besides the ``manifest:`` line). Each command's ``--json`` form
runs too, in this process through the CLI's ``main`` (the same parsing, code and exit-code mapping; the
console script and a fresh interpreter are what the run as typed proves): exit 0 and a non-empty JSON
document on stdout. In-process, a ``train`` command costs its work, not another 8 CPU s of importing
torch, torchvision and scikit-learn; the fixture's preparation runs in-process too.

The data is small and generated: seven colour classes of 16x16 squares (tests/fixtures/recipes.py),
a one-second video, and the local fake Reddit, Arctic Shift and Openverse of tests/fixtures; the model
is the tiny ``timm/test_resnet`` (tests/fixtures/models.py), trained once for one epoch, and no verdict
reads its numbers. Commands that change a manifest get their own copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from curate.cli import app as curate_app
from curate.cli import main as curate_main
from harvest.cli import app as harvest_app
from harvest.cli import main as harvest_main
from tests.fixtures.http import FakeWeb
from tests.fixtures.models import ARCH
from tests.fixtures.recipes import make_tiny_classes, reddit_world
from tests.fixtures.search import demo_world
from tests.fixtures.video import make_video
from train.cli import app as train_app
from train.cli import main as train_main

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
APPS = {"harvest": harvest_app, "curate": curate_app, "train": train_app}
TRAIN = ["--arch", ARCH, "--weights", "none", "--img-size", "32", "--device", "cpu"]
RUN = [*TRAIN, "--epochs", "1", "--freeze-epochs", "0", "--batch-size", "16", "--workers", "0"]
LIMIT = 240  # seconds one command may take before the test fails with its name (nothing here nears it)


def commands() -> list[tuple[str, str]]:
    """(cli, command) for every command the three apps register."""
    return [(cli, name) for cli, app in APPS.items()
            for name in sorted(typer.main.get_command(app).commands)]  # type: ignore[attr-defined]


@dataclass
class World:
    root: Path
    manifest: Path  # harvested, deduplicated and split: what every curate and train command reads
    run: Path  # a trained run folder (model.pt)
    video: Path
    web: str
    mirrors: list[str]


ENV = {"REDDIT_CLIENT_ID": "", "REDDIT_CLIENT_SECRET": ""}


def cli(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=LIMIT)


MAINS = {"harvest": harvest_main, "curate": curate_main, "train": train_main}


def in_process(argv: list[str], cwd: Path) -> int:
    """Run ``argv`` through its CLI's ``main`` in this process, in ``cwd``; the exit status."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        for name, value in ENV.items():
            patch.setenv(name, value)
        try:
            MAINS[argv[0]](argv[1:])
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0


def must(argv: list[str], cwd: Path) -> None:
    status = in_process(argv, cwd)
    assert status == 0, f"{' '.join(argv)} exited {status}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("every")
    make_tiny_classes(root, per_class=16)  # 8 a class per fold: train --folds splits inside
    video = make_video(root / "clip.mp4", [("testsrc2", 12), ("smptebars", 12)])
    manifest = root / "manifest.csv"
    must(["harvest", "folder", "generated", "-m", manifest.name], root)
    must(["curate", "dedupe", manifest.name], root)
    must(["curate", "split", manifest.name, "--ratios", "0.5,0.25,0.25"], root)
    must(["train", "run", manifest.name, *RUN, "--out", "runs/base"], root)
    # out-of-fold predictions, as `curate label-issues` trains them (tests/curate/quality runs that
    # training through the command); here both output modes reuse them
    must(["train", "run", manifest.name, *RUN, "--folds", "2", "--predictions", "oof.csv",
          "--out", "runs/folds"], root)
    os.environ.pop("REDDIT_CLIENT_ID", None)
    with FakeWeb() as web:
        from tests.harvest.conftest import RedditWorld

        reddit = RedditWorld(web)
        reddit_world(reddit, per_sub=3, authors=2, reposts=1)
        demo_world(web)
        mirrors = [f"--mirror={prefix}={url}" for prefix, url in reddit.fetch.mirrors]
        yield World(root, manifest, root / "runs" / "base", video, web.base, mirrors)


def args(cli_name: str, command: str, w: World, work: Path) -> list[str]:
    """The command's arguments: a sensible small run, the manifest alone for a command not listed."""
    m = str(work / "manifest.csv")
    model = str(w.run / "model.pt")
    table: dict[tuple[str, str], list[str]] = {
        ("harvest", "folder"): [str(w.root / "generated"), "-m", m],
        ("harvest", "frames"): [str(w.video), "-m", m, "--every", "6", "--workers", "1"],
        ("harvest", "reddit"): ["r/Doom", "--after", "2020-07-01", "--before", "2020-08-01", "-m", m,
                                "--arctic-url", w.web, *w.mirrors, "--allow-private"],
        ("harvest", "search"): ["castle sketch", "--label", "castle", "-m", m, "--engine-url", w.web,
                                "--api-interval", "0", "--allow-private"],
        ("curate", "augment"): [m, "--by", "label"],
        ("curate", "balance"): [m, "--by", "label"],
        ("curate", "export"): [m, str(work / "export")],
        ("curate", "label-issues"): [m, "--predictions", str(w.root / "oof.csv")],
        ("curate", "report"): [m, "-o", str(work / "report.html")],
        ("curate", "review"): [m, "--check", "--run", str(w.run)],  # serving is tests/curate/review
        ("train", "run"): [m, *RUN, "--out", str(work / "run")],
        ("train", "embed"): [m, "--arch", ARCH, "--weights", model, "--img-size", "32", "--device", "cpu"],
        ("train", "eval"): [model, m, "--device", "cpu"],
        ("train", "export"): [str(w.run), "--format", "torchscript", "-o", str(work / "model.ts")],
        ("train", "predict"): [model, str(w.root / "generated" / "red"), "--device", "cpu"],
    }
    return table.get((cli_name, command), [m])


def prepared(cli_name: str, world: World, work: Path) -> None:
    """A curate or train command's own copy of the manifest (paths rebased to it) in ``work``."""
    if cli_name != "harvest":
        shutil.copy(world.manifest, work / "manifest.csv")
        text = (work / "manifest.csv").read_text(encoding="utf-8")
        rel = os.path.relpath(world.root, work).replace(os.sep, "/")
        (work / "manifest.csv").write_text(text.replace(",generated/", f",{rel}/generated/"),
                                           encoding="utf-8")


@pytest.mark.parametrize(("cli_name", "command"), commands(), ids=lambda v: v)
def test_every_command_runs_as_typed(world: World, cli_name: str, command: str, tmp_path: Path) -> None:
    prepared(cli_name, world, tmp_path)
    argv = [cli_name, command, *args(cli_name, command, world, tmp_path)]
    done = cli(argv, tmp_path)
    shown = f"$ {' '.join(argv)}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    assert done.returncode == 0, shown
    assert "Traceback" not in done.stderr, shown
    said = [ln for ln in (done.stdout + done.stderr).splitlines()
            if ln.strip() and not ln.startswith("manifest: ")]
    assert said, shown


@pytest.mark.parametrize(("cli_name", "command"), commands(), ids=lambda v: v)
def test_every_command_answers_json(world: World, cli_name: str, command: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    prepared(cli_name, world, tmp_path)
    argv = [cli_name, command, *args(cli_name, command, world, tmp_path), "--json"]
    capsys.readouterr()
    status = in_process(argv, tmp_path)
    out, err = capsys.readouterr()
    shown = f"$ {' '.join(argv)}\n--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}"
    assert status == 0, shown
    assert "Traceback" not in err, shown
    assert json.loads(out), shown


def test_the_list_is_every_command() -> None:
    """The three apps' commands are what the parametrised test runs (a guard against an empty list)."""
    names = commands()
    assert ("train", "export") in names and ("curate", "check") in names and ("harvest", "folder") in names
    assert len(names) >= 18
