"""The archive: ``<manifest>.archive.sqlite``, what a rerun of a collector may skip.

Like gallery-dl's download archive, it is a small SQLite file beside the manifest that records the
inputs a collector has finished: a video decoded to its end with given options, a media URL
downloaded. It is contract state, not an audit trail: the lineage log (``<manifest>.log.jsonl``) may
be pruned or deleted without a rerun doing the work again.

One table, keyed by collector, key (a resolved video path, a URL) and variant (the options that
decide the result, such as the frames ``sampling`` string), with free-form JSON ``info`` (a file's
size and modification time, counts)::

    archive = Archive("data/manifest.csv")
    archive.add("frames", "/films/kiki.mkv", "every=48 crop=auto jpg@92", {"size": 1234})
    archive.entries("frames", "every=48 crop=auto jpg@92")   # {"/films/kiki.mkv": {"size": 1234}}

Collectors write marks through their :class:`~manifests.sink.RowSink` (``sink.mark``), which stores
them only after the rows before them are merged into the manifest. Every call opens and closes its
own connection, so an archive is safe to use from several processes (SQLite locks the file).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from .errors import ManifestError

SCHEMA = """CREATE TABLE IF NOT EXISTS done (
    collector TEXT NOT NULL, key TEXT NOT NULL, variant TEXT NOT NULL DEFAULT '',
    info TEXT, at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (collector, key, variant))"""
TIMEOUT = 60.0  # seconds to wait for another process's write
# The SQL lines carry ``# pragma: no mutate``: mutmut's mutants of them change the case of keywords
# and names, which SQLite reads the same (docs/testing.md).


def archive_path(manifest: str | os.PathLike[str]) -> Path:
    """Where the archive of a manifest lives."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name + ".archive.sqlite")


def _info(text: str | None) -> dict[str, Any]:
    """A record's ``info``: its JSON object, ``{}`` when it holds anything else (crafted or damaged)."""
    try:
        info = json.loads(text or "{}")
    except (TypeError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


class Archive:
    """The archive of one manifest; creating the object touches no file."""

    def __init__(self, manifest: str | os.PathLike[str]) -> None:
        self.path = archive_path(manifest)

    def exists(self) -> bool:
        """Whether any run has written this archive yet."""
        return self.path.exists()

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection]:
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(sqlite3.connect(self.path, timeout=TIMEOUT)) as db:
                if write:
                    db.execute(SCHEMA)
                with db:  # one transaction
                    yield db
        except sqlite3.DatabaseError as exc:
            raise ManifestError(f"{self.path}: the archive cannot be used ({exc}); move it away to "
                                "start it again (finished inputs are then done again)") from exc

    def add(self, collector: str, key: str, variant: str = "",
            info: Mapping[str, Any] | None = None) -> None:
        """Record one finished input (replacing an earlier record of the same one)."""
        self.add_many(collector, [(key, variant, info)])

    def add_many(self, collector: str,
                 records: Iterable[tuple[str, str, Mapping[str, Any] | None]]) -> None:
        """Record several finished inputs in one transaction."""
        rows = [(collector, str(key), variant, json.dumps(dict(info or {}), default=str))
                for key, variant, info in records]
        if not rows:
            return
        with self._connect(write=True) as db:
            db.executemany("INSERT OR REPLACE INTO done (collector, key, variant, info) "  # pragma: no mutate
                           "VALUES (?, ?, ?, ?)", rows)  # pragma: no mutate

    def entries(self, collector: str, variant: str | None = None) -> dict[str, dict[str, Any]]:
        """Finished inputs of a collector (with one ``variant``, or any), key -> info."""
        if not self.exists():
            return {}
        query = "SELECT key, info FROM done WHERE collector = ?"  # pragma: no mutate
        args: tuple[str, ...] = (collector,)
        if variant is not None:
            query, args = query + " AND variant = ?", (collector, variant)  # pragma: no mutate
        with self._connect(write=False) as db:
            try:
                found = db.execute(query + " ORDER BY rowid", args).fetchall()  # pragma: no mutate
            except sqlite3.OperationalError:  # created by another process, table not there yet
                return {}
        return {key: _info(info) for key, info in found}

    def has(self, collector: str) -> bool:
        """Whether the archive holds any record of this collector."""
        if not self.exists():
            return False
        with self._connect(write=False) as db:
            try:
                return db.execute("SELECT 1 FROM done WHERE collector = ? LIMIT 1",  # pragma: no mutate
                                  (collector,)).fetchone() is not None
            except sqlite3.OperationalError:
                return False

    def remove(self, collector: str, key: str, variant: str | None = None) -> int:
        """Forget a finished input (so the next run does it again); returns the records removed."""
        if not self.exists():
            return 0
        query, args = "DELETE FROM done WHERE collector=? AND key=?", (collector, key)  # pragma: no mutate
        if variant is not None:
            query, args = query + " AND variant = ?", (*args, variant)  # pragma: no mutate
        with self._connect(write=True) as db:
            return db.execute(query, args).rowcount
