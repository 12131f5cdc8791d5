"""The temporary file of every atomic write gleanset makes, with the mode the user's umask gives.

An atomic write fills a temporary file beside its target and renames it over the target, so no reader
sees half a file. ``tempfile.mkstemp`` creates that file with mode 0600, and the rename keeps it: a
manifest, sidecar or stored image written that way could be read by its owner only, whatever the
umask, so a dataset shared with another user, a container or Dask workers could not be read.
:func:`temp_beside` is the one way gleanset makes such a file (manifests, partitioned parts,
sidecars, stored images, features files, scene lists): it gets the mode a plain ``open()`` gives a
new file, ``0666`` less the umask (0644 under umask 022, 0664 under 002). Hard-linked exports share
their stored image's inode, so they have its mode.

Example::

    fd, tmp = temp_beside(target)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)
"""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import suppress
from pathlib import Path

_UMASK_LOCK = threading.Lock()  # os.umask is process-wide: one setter at a time


def umask() -> int:
    """The process's umask, read from ``/proc/self/status`` where there is one (Linux), else set and
    restored at once under a lock."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def temp_beside(target: str | os.PathLike[str], suffix: str = ".tmp",
                prefix: str | None = None) -> tuple[int, str]:
    """An open temporary file in ``target``'s folder (``fd``, path) for an atomic write of ``target``,
    with the mode a plain ``open()`` gives a new file (``0666`` less the umask), not mkstemp's 0600."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}." if prefix is None else prefix, suffix=suffix,
                               dir=target.parent)
    with suppress(OSError):  # a filesystem without modes (FAT, some network mounts): its default applies
        os.fchmod(fd, 0o666 & ~umask())
    return fd, tmp
