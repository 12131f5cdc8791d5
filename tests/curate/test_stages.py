"""The curate stage contract (``curate.contract``), checked over every registered stage: options that
check themselves where they are made, one result type with ``to_dict``/``lines``/``exit_status``, and a
stage for every ``curate`` command."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import manifests
from curate.augment import AugmentOptions
from curate.balance import BalanceOptions
from curate.card import CardOptions
from curate.cli import COMMANDS
from curate.contract import StageResult
from curate.dedupe import DedupeOptions
from curate.export import ExportOptions
from curate.gc import GcOptions
from curate.quality.check import CheckOptions
from curate.quality.label_issues import PROB_PREFIX, LabelIssueOptions
from curate.report import ReportOptions
from curate.review import ReviewOptions
from curate.split import SplitOptions
from curate.stages import STAGES
from curate.stats import StatsOptions
from manifests import ExitStatus, UsageError, schema
from tests.curate.conftest import STREET, Dataset, make_dataset


def _predictions(frame: pd.DataFrame) -> pd.DataFrame:
    """Out-of-fold probabilities that mostly agree with the labels."""
    rows = frame[(frame[schema.STATUS] == schema.OK) & frame[schema.LABEL].notna()]
    labels = sorted(rows[schema.LABEL].unique())
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(len(labels)), len(rows)) * 0.3
    probs[np.arange(len(rows)), [labels.index(v) for v in rows[schema.LABEL]]] += 0.7
    table = pd.DataFrame(probs, columns=[PROB_PREFIX + c for c in labels])
    table.insert(0, schema.SHA256, rows[schema.SHA256].to_numpy())
    return table


# For each stage: options for a typical run, options with a bad value, and a run on the shared dataset.
Run = Callable[[Dataset, pd.DataFrame, Any, Path], Any]
CASES: dict[str, tuple[Callable[[], Any], Callable[[], Any], Run]] = {
    "stats": (lambda: StatsOptions(by=(schema.LABEL, STREET)), lambda: StatsOptions(by=(" ",)),
              lambda d, f, o, tmp: STAGES["stats"].run(f, o)),
    "balance": (lambda: BalanceOptions(max_per_cell=5), lambda: BalanceOptions(strategy="cap"),
                lambda d, f, o, tmp: STAGES["balance"].run(f, o)),
    "split": (lambda: SplitOptions(group_by=(STREET,), force=True), lambda: SplitOptions(ratios=(0.5, 0.6)),
              lambda d, f, o, tmp: STAGES["split"].run(f, o)),
    "dedupe": (lambda: DedupeOptions(leaks=True), lambda: DedupeOptions(hash_size=3, hash="whash"),
               lambda d, f, o, tmp: STAGES["dedupe"].run(f, d.root, o)),
    "augment": (lambda: AugmentOptions(to_share=0.5), lambda: AugmentOptions(max_copies=0),
                lambda d, f, o, tmp: STAGES["augment"].run(f, d.root, o, write=False)),
    "report": (lambda: ReportOptions(cache=False, workers=1), lambda: ReportOptions(thumb_size=8),
               lambda d, f, o, tmp: STAGES["report"].run(d.manifest, tmp / "report.html", o)),
    "export": (lambda: ExportOptions(format="csv"), lambda: ExportOptions(shard_size=0),
               lambda d, f, o, tmp: STAGES["export"].run(f, d.root, tmp / "out", o)),
    "card": (lambda: CardOptions(name="cats and dogs"), lambda: CardOptions(name=" "),
             lambda d, f, o, tmp: STAGES["card"].run(d.manifest, tmp / "CARD.md", o)),
    "label-issues": (lambda: LabelIssueOptions(), lambda: LabelIssueOptions(relabel=0.1, drop=0.1),
                     lambda d, f, o, tmp: STAGES["label-issues"].run(f, _predictions(f), o)),
    "check": (lambda: CheckOptions(), lambda: CheckOptions(max_issue_quality=2),
              lambda d, f, o, tmp: STAGES["check"].run(d.manifest, o)),
    "gc": (lambda: GcOptions(), lambda: GcOptions(delete="yes"),
           lambda d, f, o, tmp: STAGES["gc"].run(d.manifest, o)),
    "review": (lambda: ReviewOptions(batch_seconds=0.5), lambda: ReviewOptions(page_size=0),
               lambda d, f, o, tmp: STAGES["review"].run(d.manifest, o)),
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return make_dataset(tmp_path_factory.mktemp("stages") / "data")


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"I/O while making options: {args!r}")


def test_every_command_is_a_stage() -> None:
    assert set(CASES) == set(STAGES) == {c.name for c in COMMANDS}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_contract(name: str, shared: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stage = STAGES[name]
    good, bad, run = CASES[name]
    assert stage.name == name and stage.options.__doc__ and stage.result.__doc__ and stage.run.__doc__
    assert dataclasses.is_dataclass(stage.options) and stage.options.__dataclass_params__.frozen
    assert "__post_init__" in stage.options.__dict__  # the options check themselves
    assert issubclass(stage.result, StageResult) and "data" in stage.result.__dict__
    assert stage.options.__name__ in str(inspect.signature(stage.run))  # the run takes these options
    with monkeypatch.context() as guard:  # making options does no I/O
        guard.setattr("builtins.open", _refuse)
        guard.setattr("io.open", _refuse)
        options = good()
    with pytest.raises(UsageError):
        bad()
    before = sorted(os.listdir(shared.root))
    out = run(shared, manifests.read(shared.manifest), options, tmp_path)
    result = out[1] if isinstance(out, tuple) else out
    assert isinstance(result, stage.result)
    data = json.loads(json.dumps(result.to_dict(), default=str))
    assert isinstance(data, dict) and "changes" not in data
    assert all(isinstance(line, str) and "\n" not in line for line in result.lines())
    assert isinstance(result.exit_status(), ExitStatus)
    result.record(manifests.Changes(), dry_run=True)
    assert result.to_dict()["dry_run"] is True and "changes" in result.to_dict()
    assert sorted(os.listdir(shared.root)) == before or name in ("report", "dedupe")  # thumbs, caches


def test_failing_stages_say_so_in_their_exit_status(shared: Dataset) -> None:
    leaky = manifests.read(shared.manifest)
    result = STAGES["dedupe"].run(leaky, shared.root, DedupeOptions(leaks=True, threshold=64))
    assert result.leaking_clusters and result.exit_status() == ExitStatus.ERROR
    quiet = STAGES["dedupe"].run(leaky, shared.root, DedupeOptions(threshold=64))
    assert quiet.leaking_clusters and quiet.exit_status() == ExitStatus.OK  # not a --leaks check


def test_library_callers_get_the_command_line_checks() -> None:
    with pytest.raises(UsageError, match="--shard-size"):
        ExportOptions(shard_size=0)  # before: empty shards, silently
    with pytest.raises(UsageError, match="--format"):
        ExportOptions(format="tfrecord")
    with pytest.raises(UsageError, match="--top"):
        ReportOptions(top=0)
    with pytest.raises(UsageError, match="--keep"):
        DedupeOptions(keep="random")
    with pytest.raises(UsageError, match="--ratios"):
        SplitOptions(ratios=(0.7, 0.2, 0.2))
    with pytest.raises(UsageError, match="--pin"):
        SplitOptions(ratios=(0.8, 0.2), pins=(("test", ("a",)),))
