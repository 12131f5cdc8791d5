"""Issue 26, item 4: ``curate dedupe --method embedding --weights none``.

Untrained features say nothing about the images: the run is refused in one line unless ``--force``,
which warns. While it runs it says what it does (the embedding, then the comparison), and the count
it prints is what the manifest holds. Through the real CLI, with the tiny test backbone
(tests/fixtures/models.py) embedding in the ``train embed`` child process.
"""

from __future__ import annotations

import json
import re

import pytest

import manifests
from curate import cli
from manifests import schema
from tests.curate.conftest import Dataset
from tests.fixtures.models import ARCH


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


def test_untrained_features_are_refused(dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    before = dataset.manifest.read_bytes()
    code, out, err = run(["dedupe", str(dataset.manifest), "--method", "embedding", "--weights", "none"],
                         capsys)
    assert code == 2 and "untrained" in err and "--force" in err and "Traceback" not in err
    said = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("manifest:")]
    assert len(said) == 1 and said[0].startswith("error")
    assert dataset.manifest.read_bytes() == before and not out


def test_force_warns_says_what_it_does_and_counts_what_it_wrote(
        dataset: Dataset, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    argv = ["dedupe", str(dataset.manifest), "--method", "embedding", "--weights", "none", "--force",
            "--arch", ARCH, "--similarity", "0.9"]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    assert "warning: --weights none --force" in err
    assert "embedding 31 images with timm/test_resnet" in err  # said before the child starts
    frame = manifests.read(dataset.manifest)
    marked = int((frame[schema.STATUS] == schema.DUPLICATE).sum())
    said = re.search(r"(\d+) rows? marked duplicate", " ".join(err.split()))
    assert said and int(said.group(1)) == marked, err
    code, out, _ = run([*argv, "--json"], capsys)  # features cached now: the rerun reads them
    data = json.loads(out)
    assert data["marked_duplicate"] == int((manifests.read(dataset.manifest)[schema.STATUS]
                                            == schema.DUPLICATE).sum())
    assert data["newly_marked"] == data["unmarked"] == 0
