"""gleanset's manifest contract: schema, read/write, merge, lock, lineage log, group columns, images.

:mod:`manifests.images` (the one image opener) imports Pillow, so it is imported on demand:
``from manifests import images``.

Every other package (harvest, curate, train) reads and writes manifests through this package and
names columns through :mod:`manifests.schema`.
"""

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
from .groups import group_columns
from .io import conform, empty, from_records, is_parquet, read, write
from .lineage import entries as lineage_entries
from .lineage import log_path
from .merge import Changes, MergeStats, diff, merge
from .update import Appender, declare_groups, locked, update

__all__ = [
    "Appender", "Changes", "ExitStatus", "GleansetError", "InputError", "LockTimeout",
    "ManifestError", "MergeStats", "MissingToolError", "NetworkError", "UsageError", "conform",
    "declare_groups", "diff", "empty", "from_records", "group_columns", "is_parquet",
    "lineage_entries", "locked", "log_path", "merge", "read", "schema", "update", "write",
]
