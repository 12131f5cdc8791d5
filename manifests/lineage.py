"""The lineage log: ``<manifest>.log.jsonl``, one JSON line per command that changed the manifest.

Each line holds the full command line (API keys in its URLs redacted, :mod:`manifests.redact`), the
gleanset version, the schema version, the UTC time, the rows added/changed/removed and whatever
details the command chose to record (a crop box, a threshold).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import schema
from .redact import redact

if TYPE_CHECKING:
    from .merge import Changes


def log_path(manifest: str | os.PathLike[str]) -> Path:
    """Where the lineage log of a manifest lives."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name + ".log.jsonl")


def version() -> str:
    """The installed gleanset version."""
    try:
        return metadata.version("gleanset")
    except metadata.PackageNotFoundError:
        return "0+unknown"


_COMMAND: ContextVar[str | None] = ContextVar("gleanset_command", default=None)


def use_command(argv: list[str]) -> None:
    """Record the command line being run (the CLIs call this; it beats ``sys.argv``)."""
    _COMMAND.set(redact(shlex.join(argv)))


def command_line(argv: list[str] | None = None) -> str:
    """The full command line as a shell would take it, API keys in its URLs redacted."""
    if argv is None and _COMMAND.get() is not None:
        return str(_COMMAND.get())
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return redact(shlex.join(argv))


def now() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def append(manifest: str | os.PathLike[str], command: str, changes: Changes,
           rows: int, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Append one entry to the manifest's lineage log and return it."""
    entry: dict[str, Any] = {
        "time": now(),
        "command": command,
        "version": version(),
        "schema_version": schema.SCHEMA_VERSION,
        **changes.as_dict(),
        "rows": rows,
    }
    if details:
        entry["details"] = details
    path = log_path(manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False, default=str)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a command line naming a file whose name is not valid UTF-8
        line = json.dumps(entry, default=str)  # \u escapes: still one valid JSON line in UTF-8
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return entry


def entries(manifest: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All entries of a manifest's lineage log, oldest first. A line that is not a JSON object (a torn
    last line, a crafted one: a list, a non-UTF-8 byte, nesting too deep to parse) is skipped."""
    path = log_path(manifest)
    if not path.exists():
        return []
    out = []
    for raw in path.read_bytes().splitlines():
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, RecursionError, ValueError):
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out
