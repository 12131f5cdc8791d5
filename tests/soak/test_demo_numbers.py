"""``make demo``'s numbers are the manifests' (issue 26): each command the demo runs says, in its
summary, exactly what its manifest (or export folder) then holds, and so does the demo's closing table.

The demo's own steps (:func:`tests.fixtures.demo_run.steps`) run on its own generated sources and local
fake servers, each through its console script with ``--json`` added (the plain summary is rendered
from the same result), up to the training, which says nothing the manifests could check (its numbers
are the model's). After each step the summary's counts are compared with what the files hold, read
independently with :func:`manifests.read`. A soak test (``make soak`` runs it, not ``make test``): it
runs most of the demo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import manifests
from manifests import schema
from tests.fixtures.demo import make_movies, make_screenshots
from tests.fixtures.demo_run import Step, steps

pytestmark = pytest.mark.soak

BIN = Path(sys.executable).parent


def run_json(step: Step, cwd: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "REDDIT_CLIENT_ID": "", "REDDIT_CLIENT_SECRET": ""}
    done = subprocess.run([str(BIN / step.argv[0]), *step.argv[1:], "--json"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{step.argv}: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def manifest_of(step: Step, cwd: Path) -> pd.DataFrame:
    path = next(a for a in step.argv if a.endswith("manifest.csv"))
    return manifests.read(cwd / path)


def check(step: Step, said: dict[str, Any], cwd: Path) -> None:
    """The summary ``said`` against what the step's files hold now."""
    command = " ".join(step.argv[:2])
    if step.argv[0] == "harvest":
        # the run's rows (its per-label table) are the new rows plus those whose bytes were already
        # there (two identical frames are one row): a new manifest holds exactly the new ones
        frame = manifest_of(step, cwd)
        ok = int((frame[schema.STATUS] == schema.OK).sum())
        assert said["added"] == len(frame), command
        assert said["rows"] == said["added"] + said["already_present"] + said["replaced_failures"], command
        assert said["ok"] - said["already_present"] <= ok <= said["ok"], command
        assert sum(said["statuses"].values()) == said["rows"], command
    elif command == "curate dedupe":
        frame = manifest_of(step, cwd)
        assert said["marked_duplicate"] == int((frame[schema.STATUS] == schema.DUPLICATE).sum())
        clustered = frame.dropna(subset=[schema.DUP_CLUSTER])
        mixed = int((clustered.groupby(schema.DUP_CLUSTER)[schema.LABEL].nunique() > 1).sum())
        assert said["clusters_with_mixed_labels"] == mixed
    elif command == "curate split":
        frame = manifest_of(step, cwd)
        ok = frame[frame[schema.STATUS] == schema.OK]
        held = Counter(zip(ok[schema.LABEL].astype(str), ok[schema.SPLIT].astype(str), strict=True))
        told = Counter({(label, split): n for label, per in said["counts"].items() for split, n in per.items()
                        if n})
        assert told == held
    elif command == "curate export":
        out = cwd / step.argv[3]
        files = Counter(p.relative_to(out).parts[0] for p in out.rglob("*")
                        if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        told = {split: sum(per.values()) for split, per in said["per_split"].items()}
        renamed = {"val": "validation"} if said["format"] == "hf" else {}
        assert {renamed.get(s, s): n for s, n in told.items()} == dict(files)
        assert said["rows"] == sum(files.values())


def test_the_demo_says_what_its_manifests_hold(tmp_path: Path) -> None:
    from tests.fixtures.http import FakeWeb
    from tests.fixtures.recipes import reddit_world
    from tests.fixtures.search import demo_world
    from tests.harvest.conftest import RedditWorld

    root = tmp_path / "demo"
    make_screenshots(root)
    make_movies(root)
    checked = []
    with FakeWeb() as web:
        world = RedditWorld(web)
        reddit_world(world, per_sub=16, authors=5, reposts=2)
        demo_world(web)
        mirrors = [f"--mirror={prefix}={url}" for prefix, url in world.fetch.mirrors]
        for step in steps(root, web.base, mirrors):
            if step.argv[0] == "train":
                break
            said = run_json(step, tmp_path)
            check(step, said, tmp_path)
            closing = step.did()  # the demo's closing table, read from the files
            if step.title == "curate dedupe":
                assert closing.startswith(f"{said['marked_duplicate']} marked duplicate; "
                                          f"{said['clusters_with_mixed_labels']} clusters with mixed")
            if step.argv[0] == "harvest":
                ok = int((manifest_of(step, tmp_path)[schema.STATUS] == schema.OK).sum())
                assert closing.startswith(f"{ok} ok rows")
            checked.append(step.title)
    assert checked.count("curate dedupe") == 3 and checked.count("curate split") == 3
