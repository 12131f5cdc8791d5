"""The options curate's commands share, each defined once, and the choice lists ``--help`` shows.

No pandas, numpy or curate library here: ``curate --help`` imports only typer and rich.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer

# The names of curate.dedupe.hashing.METHODS, curate.dedupe.index.ENGINES and curate.augment.OPS,
# spelled out so --help imports none of them (tests/curate/dedupe/test_hashing.py keeps them equal).
METHOD_NAMES = ("phash", "dhash", "ahash", "whash", "colorhash")
ENGINE_NAMES = ("auto", "brute", "mih")
AUGMENT_OPS = ("grayscale", "invert", "poisson", "rescale", "log", "sigmoid")

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write the result to this manifest and leave the input untouched.")]
SeedOpt = Annotated[int, typer.Option(help="Seed: the same manifest and seed give the same result.")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", "-j", min=1, show_default=False,
    help="Workers for the command's parallel work (processes or threads; default: a few per CPU, "
         "at most 8).")]


class Command(NamedTuple):
    """One ``curate`` command: its name, the function typer calls and the examples under its help."""

    name: str
    run: Callable[..., Any]
    epilog: str


def columns(text: str) -> tuple[str, ...]:
    """``"label, street"`` -> ``("label", "street")``."""
    return tuple(c.strip() for c in text.split(",") if c.strip())


def default_workers(most: int = 4) -> int:
    """Workers when ``--workers`` is not given: one per CPU, at most ``most``."""
    return max(1, min(most, os.cpu_count() or 1))
