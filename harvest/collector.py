"""The collector plug-in base: one small abstract class every source implements.

The contract:

- a collector is built from one frozen options dataclass (its ``options_type``) that checks itself
  in ``__post_init__`` (bad values raise :class:`~manifests.UsageError`); constructing the collector
  does no I/O and makes no request;
- ``run(sink, progress)`` feeds rows to a :class:`~manifests.RowSink` (a ``manifests.Appender``),
  drives a :class:`~manifests.Progress` and returns a typed summary (its ``summary_type``, a
  :class:`~harvest.summary.RunSummary`); what a rerun may skip is marked in the sink's archive;
- ``describe()`` may say, before the run, what the run will do (which post source and why);
- ``group_columns`` names the columns it writes that group related images, and ``run`` records them
  with ``declare_groups(sink)`` (the manifest's own metadata, :mod:`manifests.groups`).

Rows are plain dicts keyed by :mod:`manifests.schema` column names plus any collector metadata. Every
collector is listed in :mod:`harvest.registry`; ``tests/harvest/test_registry.py`` checks this
contract over each entry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from manifests import RowSink, UsageError
from manifests.progress import NoProgress, Progress

from .summary import RunSummary


class Collector(ABC):
    """Base of all collectors.

    Subclasses set ``name`` (the ``harvest`` sub-command), ``source`` (the manifest's ``source``
    value), ``example`` (a command line that shows typical use), ``options_type``, ``summary_type``
    and ``group_columns`` (the columns they write that group related images: a video, a post), and
    implement ``run``.
    """

    name: ClassVar[str]
    source: ClassVar[str]
    example: ClassVar[str]
    options_type: ClassVar[type]
    summary_type: ClassVar[type[RunSummary]] = RunSummary
    group_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Any) -> None:
        if not isinstance(options, self.options_type):
            raise UsageError(f"the {self.name} collector takes {self.options_type.__name__}, not "
                             f"{type(options).__name__}")
        self.options = options

    @abstractmethod
    def run(self, sink: RowSink, progress: Progress | None = None) -> RunSummary:
        """Collect rows into ``sink``; per-item failures are rows, whole-run failures raise."""

    def describe(self) -> str | None:
        """What the run is about to do, for the user, before it starts (no I/O); ``None``: nothing."""
        return None

    def groups(self) -> tuple[str, ...]:
        """The group columns this run writes (the class's ``group_columns`` unless options say more)."""
        return self.group_columns

    def declare_groups(self, sink: RowSink) -> None:
        """Record this run's group columns as the manifest's own metadata (see ``manifests.groups``)."""
        if self.groups():
            sink.declare_groups(self.groups(), f"harvest {self.name}")

    def new_summary(self) -> Any:
        return self.summary_type(self.source)

    @staticmethod
    def progress_or_none(progress: Progress | None) -> Progress:
        return progress if progress is not None else NoProgress()
