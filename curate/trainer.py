"""How curate uses the trainer: through its command line, in a child process, never by importing it.

``curate label-issues`` needs out-of-fold probabilities (``train run --folds``) and ``curate dedupe
--method embedding`` needs backbone features (``train embed``); both are files the trainer writes
(a predictions CSV, a features file keyed by sha256, :mod:`manifests.features`) and curate reads.
:func:`run_train` runs ``python -m train ARGS`` with this interpreter; its progress and errors show
on stderr, and a failure is one :class:`~manifests.GleansetError`.
"""

from __future__ import annotations

import logging
import subprocess
import sys

from manifests import GleansetError

log = logging.getLogger(__name__)


def train_argv(*args: str) -> list[str]:
    """The command line that runs ``train ARGS`` with this interpreter."""
    return [sys.executable, "-m", "train", *args]


def run_train(cmd: list[str], what: str) -> None:
    """Run a :func:`train_argv` command line; ``what`` names it in the error (``train --folds``)."""
    log.info("running %s", " ".join(cmd))
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False)  # its progress shows on stderr
    if done.returncode != 0:
        raise GleansetError(f"{what} failed (exit {done.returncode}; its error is above): "
                            f"{' '.join(cmd[1:])}")
