"""The exception tree and exit codes shared by every gleanset command.

::

    GleansetError                 exit 1   a whole run failed
     ├── UsageError               exit 2   the command line is wrong
     ├── InputError               exit 4   an input (folder, video, manifest) is missing or unusable
     │    └── ManifestError       exit 4   a manifest cannot be read or does not fit the schema
     ├── LockTimeout              exit 5   another command holds the manifest's lock
     ├── NetworkError             exit 6   a remote service cannot be reached at all
     └── MissingToolError         exit 7   a system tool (ffmpeg) is not installed

Per-item failures (one corrupt image, one 404) are never exceptions: they are manifest rows with a
``status`` and an ``error``. A run where some items failed exits with ``ExitStatus.PARTIAL`` only when
the user asked for ``--strict``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes of the harvest, curate and train commands."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    INPUT = 4
    LOCKED = 5
    NETWORK = 6
    MISSING_TOOL = 7
    INTERRUPTED = 130


class GleansetError(Exception):
    """A failure of a whole run, shown to the user as one line."""

    exit_status = ExitStatus.ERROR


class UsageError(GleansetError):
    """The command line is wrong."""

    exit_status = ExitStatus.USAGE


class InputError(GleansetError):
    """An input is missing or unusable."""

    exit_status = ExitStatus.INPUT


class ManifestError(InputError):
    """A manifest cannot be read, or it does not fit the schema."""


class LockTimeout(GleansetError):
    """Another command holds the manifest's lock for longer than we wait."""

    exit_status = ExitStatus.LOCKED


class NetworkError(GleansetError):
    """A remote service cannot be reached at all."""

    exit_status = ExitStatus.NETWORK


class MissingToolError(GleansetError):
    """A system tool gleanset needs is not installed."""

    exit_status = ExitStatus.MISSING_TOOL
