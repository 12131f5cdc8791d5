"""Worker processes that die with their parent.

A ``ProcessPoolExecutor`` worker outlives a parent killed with ``SIGKILL`` (no cleanup runs in the
parent), and kept writing images for half a minute in a reproduction. ``pool`` builds an executor
whose workers ask the Linux kernel to send them ``SIGKILL`` when their parent dies
(``prctl(PR_SET_PDEATHSIG)``, through ctypes), and also exit on their own on other systems when
they notice they were re-parented.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send this process ``sig`` when its parent dies; ``True`` when it is armed.
    ``parent`` is the parent's pid as the caller knew it: if it is gone already, ``sig`` comes now."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if parent is not None and os.getppid() != parent:  # the parent died before prctl ran
        os.kill(os.getpid(), sig)
    return True


def pool(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers are killed when this process dies, however it dies."""
    return ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent,
                               initargs=(os.getpid(),))
