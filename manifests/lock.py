"""A manifest's lock: one command at a time changes a manifest, and a waiting command says who holds it.

The lock is ``<manifest>.lock`` beside the manifest, held with ``filelock`` (``flock`` on POSIX, so a
killed holder never leaves it held). While a command holds it, the file records who: its PID, command
line, host and since when (JSON). A command that finds the lock held says at once, on its log::

    waiting for data/manifest.csv (locked by PID 4242: `curate dedupe data/manifest.csv` since 14:05)

and again every :data:`REMIND_EVERY` seconds while it waits, so a wait is never silent; after
``$GLEANSET_LOCK_TIMEOUT`` seconds (600 by default) it gives up with ``LockTimeout`` (exit 5).

The lock file stays when its command ends (emptied): deleting a lock file another process may be
waiting on would let two commands hold "the" lock at once.

Example::

    from manifests import locked
    with locked("data/manifest.csv"):
        ...  # read, change and write the manifest
"""

from __future__ import annotations

import glob
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from filelock import Timeout as _FileLockTimeout

from . import lineage
from .errors import LockTimeout, UsageError

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 600.0  # seconds a command waits for another command's lock ...
LOCK_TIMEOUT_ENV = "GLEANSET_LOCK_TIMEOUT"  # ... unless this environment variable says otherwise
REMIND_EVERY = 30.0  # seconds between the "still waiting" lines


def lock_timeout() -> float:
    """Seconds to wait for a manifest's lock: ``$GLEANSET_LOCK_TIMEOUT`` when set, else 600.

    A bad value is a ``UsageError`` naming the variable.
    """
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return LOCK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise UsageError(f"{LOCK_TIMEOUT_ENV}={raw!r}: give the seconds to wait for a manifest's lock "
                         "(0 or more)")
    return seconds


def lock_path(manifest: str | os.PathLike[str]) -> Path:
    """The lock file guarding a manifest."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name + ".lock")


@dataclass(frozen=True)
class Holder:
    """Who holds a manifest's lock, as its lock file records it."""

    pid: int
    command: str
    since: float  # seconds since the epoch
    host: str = ""

    def describe(self) -> str:
        """``PID 4242: `curate dedupe ...` since 14:05`` (the host too when it is another machine)."""
        stamp = time.localtime(self.since)
        when = time.strftime("%H:%M" if time.time() - self.since < 86400 else "%Y-%m-%d %H:%M", stamp)
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"PID {self.pid}{where}: `{self.command}` since {when}"


def holder(manifest: str | os.PathLike[str]) -> Holder | None:
    """Who holds the manifest's lock, from its lock file; ``None`` when it records no one."""
    try:
        data = json.loads(lock_path(manifest).read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["command"]), float(data["since"]), str(data.get("host", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record(path: Path) -> None:
    """Write who we are into the lock file we hold (the lock is on the file, not its content)."""
    record = {"pid": os.getpid(), "command": lineage.command_line(), "since": round(time.time(), 3),
              "host": socket.gethostname()}
    with suppress(OSError), path.open("w", encoding="utf-8") as fh:
        json.dump(record, fh)


def _clear(path: Path) -> None:
    with suppress(OSError), path.open("w", encoding="utf-8"):
        pass


def _held_by(manifest: str | os.PathLike[str]) -> str:
    who = holder(manifest)
    return f"locked by {who.describe()}" if who else "locked by another command, which recorded no PID"


def _acquire(lock: FileLock, manifest: str | os.PathLike[str], wait: float) -> None:
    """Take the lock; when another command holds it, say so at once and every REMIND_EVERY seconds."""
    try:
        lock.acquire(timeout=0)
        return
    except _FileLockTimeout:
        pass
    start = time.monotonic()
    log.warning("waiting for %s (%s); giving up after %.0f s (%s)", manifest, _held_by(manifest), wait,
                LOCK_TIMEOUT_ENV)
    while True:
        left = wait - (time.monotonic() - start)
        try:
            lock.acquire(timeout=max(0.0, min(left, REMIND_EVERY)))
            return
        except _FileLockTimeout:
            if left <= REMIND_EVERY:
                who = holder(manifest)
                raise LockTimeout(f"{manifest} is locked by another command ("
                                  f"{who.describe() if who else lock_path(manifest)}); gave up after "
                                  f"{wait:g} s: wait for it to finish") from None
            log.warning("still waiting for %s after %.0f s (%s)", manifest, time.monotonic() - start,
                        _held_by(manifest))


@contextmanager
def locked(manifest: str | os.PathLike[str], timeout: float | None = None) -> Iterator[None]:
    """Hold the manifest's lock (across processes) for the duration of the block; wait for it at most
    ``timeout`` seconds (default :func:`lock_timeout`), saying who holds it, then raise
    ``LockTimeout``."""
    path = lock_path(manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = lock_timeout() if timeout is None else timeout
    lock = FileLock(str(path), timeout=wait)
    _acquire(lock, manifest, wait)
    outer = lock.lock_counter == 1  # a nested hold of this process leaves the record to the outer one
    try:
        if outer:
            _record(path)
        remove_stale_temps(manifest)
        yield
    finally:
        if outer:
            _clear(path)
        lock.release()


def remove_stale_temps(manifest: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files a killed write left beside the manifest; call it holding the lock.

    Every write of a manifest happens under its lock, so a ``.<name>.*.tmp`` file found while we
    hold the lock belongs to a writer that died.
    """
    manifest = Path(manifest)
    removed = []
    for tmp in manifest.parent.glob(f".{glob.escape(manifest.name)}.*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            continue
        removed.append(tmp)
        log.info("removed %s, left by a write that was killed", tmp)
    return removed
