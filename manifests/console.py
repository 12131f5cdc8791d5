"""Command-line plumbing shared by the harvest, curate and train CLIs.

``run_app`` runs a Typer app in-process and turns every failure into one line on stderr and an exit
code from :class:`~manifests.errors.ExitStatus`; ``--debug`` anywhere on the command line shows the
traceback instead. ``RichProgress`` adapts a rich progress bar to the library's progress hook.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as _RichProgress

from . import lineage
from .errors import ExitStatus, GleansetError
from .executor import ExecutorSpec

ExecutorOpt = Annotated[str, typer.Option(
    "--executor", help="Where parallel work runs: local (this machine, the default), dask-local[:N] (a "
    "Dask LocalCluster of N worker processes) or dask (an existing cluster, with --cluster). Dask "
    "workers must see the dataset folder and the sources at the same paths.")]
ClusterOpt = Annotated[str | None, typer.Option(
    "--cluster", help="Dask scheduler address for --executor dask, e.g. tcp://10.0.0.5:8786.")]


def executor_spec(executor: str, cluster: str | None, workers: int | None = None) -> ExecutorSpec | None:
    """The executor the --executor/--cluster options ask for; ``None`` for the local default."""
    spec = ExecutorSpec.parse(executor, cluster, workers)
    return spec if spec.distributed else None

err_console = Console(stderr=True)
log = logging.getLogger(__name__)


def setup_logging(verbose: int = 0) -> None:
    """Log to stderr through rich: warnings by default, ``-v`` info, ``-vv`` debug."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(message)s", force=True,
                        handlers=[RichHandler(console=err_console, show_path=False)])


def fail(message: str, status: ExitStatus) -> int:
    """Print a one-line error and return its exit status."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return int(status)


def run_app(app: typer.Typer, argv: list[str] | None, prog_name: str) -> int:
    """Run a Typer app; map exceptions to a one-line message and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    lineage.use_command([prog_name, *args])
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return fail("interrupted", ExitStatus.INTERRUPTED)
    except typer.TyperException as exc:  # usage errors and bad parameters
        if debug:
            raise
        show = getattr(exc, "show", None)
        if show:
            show(file=sys.stderr)
        else:
            fail(exc.format_message(), ExitStatus.USAGE)
        return exc.exit_code
    except GleansetError as exc:
        if debug:
            raise
        return fail(str(exc), exc.exit_status)
    except KeyboardInterrupt:
        return fail("interrupted; what was finished is saved, run the command again to resume",
                    ExitStatus.INTERRUPTED)
    except (OSError, MemoryError) as exc:
        if debug:
            raise
        return fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)",
                    ExitStatus.ERROR)
    return result if isinstance(result, int) else int(ExitStatus.OK)


def print_json(data: Any) -> None:
    """Print data as JSON on stdout (for scripts)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


class RichProgress:
    """A rich progress bar behind the library's ``Progress`` hook; silent when disabled."""

    def __init__(self, enabled: bool = True) -> None:
        self._bar = _RichProgress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
            disable=not enabled, transient=False)
        self._task: Any = None

    def total(self, n: int | None, description: str = "") -> None:
        if self._task is None:
            self._task = self._bar.add_task(description, total=n)
        else:
            self._bar.update(self._task, total=n, description=description or None)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, n)

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()
