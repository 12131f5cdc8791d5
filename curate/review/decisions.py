"""What a click in ``curate review`` changes: the rows a decision sets (and what they held), applied at
once to the app's copy and written to the manifest in small batches.

A :class:`Decision` is a list of :class:`RowChange` (a row's sha256, the cells it sets, the cells it
had), planned from the app's current rows by :func:`plan`. :class:`Journal` keeps every decision made
since the app started (the "changes" tab), queues them, and a writer thread merges each batch into
the manifest through :func:`manifests.update`: under the lock, onto the rows as they are on disk
(another command's changes stay), one atomic write and one lineage line per batch
(``details.by = "review"`` and the decisions). A killed server loses at most the batch not yet written.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from manifests import GleansetError, lineage, schema, update

from ..frames import truthy
from .rows import RowStore

log = logging.getLogger(__name__)

ACTIONS = ("label", "accept", "reject", "restore", "keeper")
BY = "review"  # the lineage details' "by", and the error of a rejected row


@dataclass
class RowChange:
    """One row's cells a decision sets, and what they held before it."""

    sha256: str
    set: dict[str, Any]
    was: dict[str, Any]


@dataclass
class Decision:
    """One action on one or more rows; ``undoes`` names the decision an undo reverts."""

    id: int
    action: str
    value: str | None
    rows: list[RowChange]
    time: str = field(default_factory=lineage.now)
    undoes: int | None = None
    saved: bool = False
    undone: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def logged(self) -> dict[str, Any]:
        """The decision as its lineage line records it."""
        out: dict[str, Any] = {"action": self.action, "rows": [
            {schema.SHA256: r.sha256, "set": r.set, "was": r.was} for r in self.rows]}
        if self.value is not None:
            out["value"] = self.value
        if self.undoes is not None:
            out["undoes"] = self.undoes
        return out


def plan(store: RowStore, action: str, shas: list[str], value: str | None = None) -> list[RowChange]:
    """The row changes ``action`` makes on ``shas`` given the rows as the app holds them now.

    ``label`` sets ``value``; ``accept`` sets each row's ``suggested_label``; both clear
    ``label_issue`` (a person decided). ``reject`` sets status ``rejected`` (error ``review``);
    ``restore`` sets status ``ok`` again; ``keeper`` makes the one row its cluster's keeper. Rows
    the action would not change are left out.
    """
    if action == "keeper":
        return _keeper(store, shas[0]) if len(shas) == 1 else []
    out = []
    for sha in dict.fromkeys(shas):
        if sha not in store.positions:
            continue
        wanted = _wanted(store, action, sha, value)
        was = {c: store.get(sha, c) for c in wanted}
        if wanted and wanted != was:
            out.append(RowChange(sha, wanted, was))
    return out


def _wanted(store: RowStore, action: str, sha: str, value: str | None) -> dict[str, Any]:
    if action in ("label", "accept"):
        label = value if action == "label" else store.get(sha, schema.SUGGESTED_LABEL)
        if not label:
            return {}
        cells: dict[str, Any] = {schema.LABEL: label}
        if schema.LABEL_ISSUE in store.frame.columns and truthy(pd.Series([store.get(
                sha, schema.LABEL_ISSUE)])).iloc[0]:
            cells[schema.LABEL_ISSUE] = False
        return cells
    if action == "reject":
        return {schema.STATUS: schema.REJECTED, schema.ERROR: BY}
    if action == "restore":
        if store.get(sha, schema.STATUS) == schema.OK:
            return {}
        return {schema.STATUS: schema.OK, schema.ERROR: None, schema.DUP_OF: None}
    return {}


def _keeper(store: RowStore, sha: str) -> list[RowChange]:
    """``sha`` kept; the old keeper and every copy that pointed at it now point at ``sha``."""
    cluster = store.get(sha, schema.DUP_CLUSTER)
    if cluster is None:
        return []
    with store.lock:
        frame = store.frame
        members = frame[frame[schema.DUP_CLUSTER].astype("string").eq(str(cluster)).fillna(False)]
        shas = members[schema.SHA256].astype("string")
        pointed = set(members[schema.DUP_OF].dropna())
    old = [s for s, st in zip(shas, members[schema.STATUS], strict=True)
           if isinstance(s, str) and s != sha and st == schema.OK and s in pointed]
    changes = {sha: {schema.STATUS: schema.OK, schema.ERROR: None, schema.DUP_OF: None}}
    for other, dup_of in zip(shas, members[schema.DUP_OF], strict=True):
        if isinstance(other, str) and other != sha and (other in old or (
                isinstance(dup_of, str) and dup_of in old)):
            changes[other] = {schema.STATUS: schema.DUPLICATE, schema.DUP_OF: sha,
                              schema.ERROR: f"near-duplicate of {sha} (keeper chosen in review)"}
    if not old:
        return []
    out = []
    for row, cells in changes.items():
        was = {c: store.get(row, c) for c in cells}
        if was != cells:
            out.append(RowChange(row, cells, was))
    return out


def write_batch(manifest: Any, command: str, batch: list[Decision], timeout: float) -> int:
    """Set each decision's cells on the manifest's rows as they are on disk; one lineage line.

    Returns the rows written. A row another command removed meanwhile is skipped (and logged).
    """
    with update(manifest, command=command, timeout=timeout) as tx:
        frame = tx.frame
        where = {s: i for i, s in zip(frame.index, frame[schema.SHA256], strict=True) if isinstance(s, str)}
        for decision in batch:
            for change in decision.rows:
                index = where.get(change.sha256)
                if index is None:
                    log.warning("row %s is no longer in %s; its decision is not written",
                                change.sha256, manifest)
                    continue
                for column, value in change.set.items():
                    if column not in frame.columns:
                        frame[column] = pd.Series(pd.NA, index=frame.index, dtype=schema.dtype_of(column))
                    frame.at[index, column] = pd.NA if value is None else value
        tx.details = {"by": BY, "decisions": [d.logged() for d in batch]}
    return tx.changes.changed


class Journal:
    """Every decision since the app started; a writer thread saves them in batches."""

    def __init__(self, store: RowStore, command: str, batch_seconds: float = 1.0,
                 lock_wait: float = 5.0) -> None:
        self.store, self.command = store, command
        self.batch_seconds, self.lock_wait = batch_seconds, lock_wait
        self.decisions: list[Decision] = []
        self.pending: list[Decision] = []
        self.revision = 0  # bumped by every decision, undo and reload: tabs refresh on a change
        self.error: str | None = None
        self.io_lock = threading.Lock()  # a batch write, or a reload of the file, at a time
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="review-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def decide(self, action: str, shas: list[str], value: str | None = None) -> Decision | None:
        """Plan and apply a decision now (the app's rows), queue it for the manifest."""
        with self._wake:
            rows = plan(self.store, action, shas, value)
            if not rows:
                return None
            decision = Decision(len(self.decisions) + 1, action, value, rows)
            return self._queue(decision)

    def undo(self) -> Decision | None:
        """Revert the last decision not undone: dropped from the queue if not yet written, else an
        undo decision that sets back what it changed."""
        with self._wake:
            last = next((d for d in reversed(self.decisions) if not d.undone and d.undoes is None), None)
            if last is None:
                return None
            last.undone = True
            for change in reversed(last.rows):
                self.store.set(change.sha256, change.was)
            if last in self.pending:
                self.pending.remove(last)
                self.revision += 1
                return last
            back = [RowChange(c.sha256, c.was, c.set) for c in reversed(last.rows)]
            return self._queue(Decision(len(self.decisions) + 1, "undo", None, back, undoes=last.id),
                               applied=True)

    def _queue(self, decision: Decision, applied: bool = False) -> Decision:
        if not applied:
            for change in decision.rows:
                self.store.set(change.sha256, change.set)
        self.decisions.append(decision)
        self.pending.append(decision)
        self.revision += 1
        self._wake.notify_all()
        return decision

    def reload_if_changed(self) -> bool:
        """Read the manifest again when another command changed it; keep the unsaved decisions."""
        with self.io_lock:
            if not self.store.changed_on_disk():
                return False
            with self._wake:
                self.store.load()
                for decision in self.pending:
                    for change in decision.rows:
                        self.store.set(change.sha256, change.set)
                self.store.version += 1
                self.revision += 1
            log.info("%s changed on disk; rows read again", self.store.path)
            return True

    def flush(self) -> bool:
        """Write the queued decisions now, as one batch; False (and kept queued) when it failed."""
        with self.io_lock:
            with self._wake:
                batch, self.pending = self.pending, []
            if not batch:
                return True
            underneath = self.store.changed_on_disk()
            try:
                write_batch(self.store.path, self.command, batch, self.lock_wait)
            except (GleansetError, OSError) as exc:
                with self._wake:
                    self.pending[:0] = batch
                    self.error = f"not saved yet: {exc}"
                log.warning("review: %s", self.error)
                return False
            with self._wake:
                self.error = None
                for decision in batch:
                    decision.saved = True
            self.store.written()
            if underneath:  # another command wrote before us: its rows are read on the next poll
                self.store.known = None
        return True

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self.pending and not self._stop:
                    self._wake.wait()
                deadline = time.monotonic() + self.batch_seconds
                while not self._stop and (left := deadline - time.monotonic()) > 0:
                    self._wake.wait(left)  # more decisions join the batch meanwhile
                if self._stop:
                    return
            if not self.flush():
                time.sleep(min(self.lock_wait, 2.0))

    def close(self) -> None:
        """Stop the writer and write what is queued."""
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()

    def state(self) -> dict[str, Any]:
        """What the page polls: revision, file version, decisions queued and saved, the last error."""
        with self._wake:
            return {"revision": self.revision, "version": self.store.version, "pending": len(self.pending),
                    "saved": sum(d.saved for d in self.decisions), "decisions": len(self.decisions),
                    "error": self.error}

    def changes(self) -> list[dict[str, Any]]:
        """Every decision since the app started, newest first."""
        with self._wake:
            return [d.to_dict() for d in reversed(self.decisions)]


__all__ = ["ACTIONS", "BY", "Decision", "Journal", "RowChange", "plan", "write_batch"]
