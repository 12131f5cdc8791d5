"""Shared by the recipe tests: the three console scripts called in-process, one torch thread."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import manifests
from manifests import schema

# The flags that make a training run a few seconds on a busy 2-core box: from scratch, CPU, no workers.
QUICK_TRAIN = ["--weights", "none", "--device", "cpu", "--workers", "0", "--freeze-epochs", "0",
               "--epochs", "2", "--batch-size", "16", "--lr", "5e-3", "--early-stop", "0"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a few shared cores, more threads spin against each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def world() -> Iterator[Any]:
    """Reddit and Arctic Shift on 127.0.0.1 (tests/harvest/conftest.py's RedditWorld)."""
    from tests.fixtures.http import FakeWeb
    from tests.harvest.conftest import RedditWorld

    with FakeWeb() as web:
        yield RedditWorld(web)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``cli("curate", "split", ...)``: run a console script's entry point with an argv list, as a user
    would type it, and return its exit code and output. Fails the test on an unexpected exit code."""
    from curate.cli import main as curate_main
    from harvest.cli import main as harvest_main
    from train.cli import main as train_main

    mains = {"harvest": harvest_main, "curate": curate_main, "train": train_main}

    def run(script: str, *argv: str, expect: int = 0) -> Result:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            mains[script](list(argv))
        out, err = capsys.readouterr()
        code = exit_info.value.code or 0
        assert code == expect, f"{script} {' '.join(argv)} exited {code}:\n{err[-3000:]}"
        return Result(int(code), out, err)

    return run


def ok_rows(manifest: Path) -> pd.DataFrame:
    frame = manifests.read(manifest)
    return frame[frame[schema.STATUS] == schema.OK]


def assert_groups_apart(manifest: Path, column: str) -> pd.DataFrame:
    """Every ok row has a split and no value of ``column`` is in two splits; returns the ok rows."""
    rows = ok_rows(manifest)
    assert rows[schema.SPLIT].notna().all()
    spread = rows.dropna(subset=[column]).groupby(column)[schema.SPLIT].nunique()
    assert len(spread) > 1 and (spread == 1).all(), spread[spread > 1]
    return rows


def assert_exported(manifest: Path, out: Path, fmt: str) -> None:
    """The export holds one image per ok row, in ``<split>/<label>/`` folders with the manifest's
    counts (Hugging Face's layout calls val ``validation``)."""
    rows = ok_rows(manifest)
    want = rows.groupby([schema.SPLIT, schema.LABEL]).size()
    if fmt == "hf":
        want = want.rename(index={"val": "validation"}, level=0)
    files = [f.relative_to(out).parts for f in out.rglob("*")
             if f.is_file() and f.suffix.lower() in (".png", ".jpg", ".jpeg")]
    got = pd.Series([(p[0], p[1]) for p in files]).value_counts()
    got.index = pd.MultiIndex.from_tuples(got.index, names=want.index.names)
    assert got.sort_index().to_dict() == want.sort_index().to_dict()


def metrics(run: Path) -> dict[str, Any]:
    return json.loads((run / "metrics.json").read_text())
