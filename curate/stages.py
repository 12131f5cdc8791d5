"""Every curate stage in one registry: the command, its options, its run function and its result.

Each entry follows :mod:`curate.contract` (options that check themselves, one result type with
``to_dict``/``lines``/``exit_status``); ``tests/curate/test_stages.py`` checks the contract over every
entry and that every ``curate`` command has one. Imported by the tests and tools, never by the CLI
(which imports each stage inside its command, so ``--help`` stays fast).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .augment import AugmentOptions, AugmentReport, augment
from .balance import BalanceOptions, BalanceReport, balance
from .card import CardOptions, CardResult, write_card
from .contract import StageResult
from .dedupe import DedupeOptions, DedupeResult, dedupe
from .export import ExportOptions, ExportReport, export
from .gc import GcOptions, GcResult, gc
from .quality.check import CheckOptions, CheckResult, check_manifest
from .quality.label_issues import LabelIssueOptions, LabelIssueReport, find_issues
from .report import ReportOptions, ReportResult, write_report
from .review import ReviewOptions, ReviewResult, summarize
from .split import SplitOptions, SplitReport, assign_splits
from .stats import StatsOptions, StatsResult, count


@dataclass(frozen=True)
class Stage:
    """One stage: the ``curate`` command that runs it, its options and result types, its function
    (which returns the result, or the new frame and the result for stages that change rows)."""

    name: str
    options: type
    result: type[StageResult]
    run: Callable[..., Any]


STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Stage("stats", StatsOptions, StatsResult, count),
    Stage("balance", BalanceOptions, BalanceReport, balance),
    Stage("split", SplitOptions, SplitReport, assign_splits),
    Stage("dedupe", DedupeOptions, DedupeResult, dedupe),
    Stage("augment", AugmentOptions, AugmentReport, augment),
    Stage("report", ReportOptions, ReportResult, write_report),
    Stage("export", ExportOptions, ExportReport, export),
    Stage("card", CardOptions, CardResult, write_card),
    Stage("label-issues", LabelIssueOptions, LabelIssueReport, find_issues),
    Stage("check", CheckOptions, CheckResult, check_manifest),
    Stage("gc", GcOptions, GcResult, gc),
    Stage("review", ReviewOptions, ReviewResult, summarize),
)}
