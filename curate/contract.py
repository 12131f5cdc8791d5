"""The curate stage contract: what every ``curate`` command's library stage gives and takes.

Like harvest's collectors (:mod:`harvest.collector`), a curate stage is

- one frozen **options** dataclass that checks itself in ``__post_init__``: a bad value raises
  :class:`~manifests.UsageError` whether it comes from the command line or from a library caller
  (``ExportOptions(shard_size=0)`` raises, it does not write empty shards). Checks that need the
  manifest (a column that must exist) stay in the stage function;
- one **run function** (``balance``, ``assign_splits``, ``dedupe`` ...) that takes the options and
  returns
- one **result**, a :class:`StageResult`: ``to_dict()`` is the ``--json`` output, ``lines()`` what a
  person reads after the result's tables, ``exit_status()`` the command's exit status (``curate dedupe
  --leaks`` and ``curate check`` fail on what they find). A stage that updates the manifest also
  records the transaction's changes on its result (:meth:`StageResult.record`).

The CLI prints any result the same way (:func:`curate.cli.render.show`) and decides nothing itself.
Every stage is listed in :mod:`curate.stages`; ``tests/curate/test_stages.py`` checks this contract
over each entry.
"""

from __future__ import annotations

from typing import Any

from manifests import ExitStatus


class StageResult:
    """Base of every curate stage's result (subclasses are dataclasses that implement ``data``)."""

    changes: dict[str, Any] | None = None  # rows added/changed/removed, for stages that update a manifest
    dry_run: bool = False

    def record(self, changes: Any, dry_run: bool = False) -> None:
        """Keep the manifest transaction's changes (a :class:`manifests.Changes`) and whether it wrote."""
        self.changes = changes.as_dict() if hasattr(changes, "as_dict") else dict(changes)
        self.dry_run = dry_run

    def data(self) -> dict[str, Any]:
        """The stage's own fields as plain JSON-able data."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The result as the ``--json`` output: the stage's data, then the changes when recorded."""
        out = self.data()
        if self.changes is not None:
            out.update(changes=self.changes, dry_run=self.dry_run)
        return out

    def lines(self) -> list[str]:
        """What a person should read after the result's tables (plain text, one line each)."""
        return self.dry_run_lines()

    def dry_run_lines(self) -> list[str]:
        return ["dry run: nothing written"] if self.dry_run else []

    def exit_status(self) -> ExitStatus:
        """The command's exit status: OK unless the stage found what it fails on."""
        return ExitStatus.OK
