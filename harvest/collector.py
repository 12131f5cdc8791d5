"""The collector plug-in base: one small abstract class every source implements.

A collector is built from a frozen options dataclass (constructing it does no I/O and makes no
request), and ``run`` feeds rows to an ``Appender`` while filling a ``RunSummary``. Rows are plain
dicts keyed by :mod:`manifests.schema` column names plus any collector metadata.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from manifests import Appender
from manifests.progress import NoProgress, Progress

from .summary import RunSummary


class Collector(ABC):
    """Base of all collectors.

    Subclasses set ``name`` (the ``harvest`` sub-command), ``source`` (the manifest's ``source``
    value), ``example`` (a command line that shows typical use) and ``group_columns`` (the columns
    they write that group related images: a video, a post), and implement ``run``.
    """

    name: ClassVar[str]
    source: ClassVar[str]
    example: ClassVar[str]
    group_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Any) -> None:
        self.options = options

    @abstractmethod
    def run(self, sink: Appender, progress: Progress | None = None) -> RunSummary:
        """Collect rows into ``sink``; per-item failures are rows, whole-run failures raise."""

    def groups(self) -> tuple[str, ...]:
        """The group columns this run writes (the class's ``group_columns`` unless options say more)."""
        return self.group_columns

    def declare_groups(self, sink: Appender) -> None:
        """Record this run's group columns as the manifest's own metadata (see ``manifests.groups``)."""
        if self.groups():
            sink.declare_groups(self.groups(), f"harvest {self.name}")

    def new_summary(self) -> RunSummary:
        return RunSummary(self.source)

    @staticmethod
    def progress_or_none(progress: Progress | None) -> Progress:
        return progress if progress is not None else NoProgress()
