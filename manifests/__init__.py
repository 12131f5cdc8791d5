"""gleanset's manifest contract: schema, read/write, merge, lock, lineage log, row sinks and progress,
group columns (:mod:`manifests.groups`) and the one image opener (:mod:`manifests.images`, imported on
demand: ``from manifests import images``).

Every other package (harvest, curate, train) reads and writes manifests through this package and
names columns through :mod:`manifests.schema`.

The schema and the exception tree are imported at once; everything that needs pandas is imported on
first use (``manifests.read`` and friends), so a command's ``--help`` does not pay for pandas.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from . import schema
from .errors import (
    ExitStatus,
    GleansetError,
    InputError,
    LockTimeout,
    ManifestError,
    MissingToolError,
    NetworkError,
    UsageError,
)
from .progress import NoProgress, Progress
from .sink import Rows, RowSink

if TYPE_CHECKING:
    from .archive import Archive, archive_path
    from .io import conform, empty, from_records, group_columns, is_parquet, read, write
    from .lineage import entries as lineage_entries
    from .lineage import log_path
    from .merge import Changes, MergeStats, diff, merge
    from .update import Appender, declare_groups, locked, update

# name -> (module, attribute): imported on first use (PEP 562).
_LAZY = {
    "Archive": ("archive", "Archive"), "archive_path": ("archive", "archive_path"),
    "conform": ("io", "conform"), "empty": ("io", "empty"), "from_records": ("io", "from_records"),
    "is_parquet": ("io", "is_parquet"), "read": ("io", "read"), "write": ("io", "write"),
    "lineage_entries": ("lineage", "entries"), "log_path": ("lineage", "log_path"),
    "Changes": ("merge", "Changes"), "MergeStats": ("merge", "MergeStats"), "diff": ("merge", "diff"),
    "merge": ("merge", "merge"), "Appender": ("update", "Appender"), "locked": ("lock", "locked"),
    "update": ("update", "update"), "declare_groups": ("update", "declare_groups"),
    "group_columns": ("io", "group_columns"),
}


_SHADOWED = {"merge", "update"}  # functions named like the submodule that defines them


class _Package(types.ModuleType):
    """Importing ``manifests.merge`` binds the submodule on the package; keep the public function of
    that name there instead (as the eager ``from .merge import merge`` used to)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Appender", "Archive", "Changes", "ExitStatus", "GleansetError", "InputError", "LockTimeout",
    "ManifestError", "MergeStats", "MissingToolError", "NetworkError", "NoProgress", "Progress",
    "RowSink", "Rows", "UsageError", "archive_path", "conform", "declare_groups", "diff", "empty",
    "from_records", "group_columns", "is_parquet", "lineage_entries", "locked", "log_path", "merge",
    "read", "schema", "update", "write",
]
