"""Command-line plumbing shared by the harvest, curate and train CLIs.

``run_app`` runs a Typer app in-process and turns every failure into one line on stderr and an exit
code from :class:`~manifests.errors.ExitStatus`; ``--debug`` anywhere on the command line shows the
traceback instead. ``RichProgress`` adapts a rich progress bar to the library's progress hook.

Text that comes from outside (a server's error message, a post id, a file name) is printed through
``plain``: as plain text, never as Rich markup (``[/x]`` would crash the print, ``[link=...]`` would
make a link), with control characters (ESC, BEL, CR, C1, bidi overrides) shown as ``\\xNN`` escapes
instead of reaching the terminal, and API keys in URLs redacted. Error lines (``fail``) and log
records go through it always; ``print_json`` escapes C1 controls that JSON would leave raw.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.text import Text

from . import lineage
from .errors import ExitStatus, GleansetError
from .redact import redact

if TYPE_CHECKING:
    from rich.progress import Progress as _RichProgress

err_console = Console(stderr=True)
INTERRUPTED = "interrupted; what was finished is saved, run the command again to resume"
log = logging.getLogger(__name__)


# C0 controls but tab and newline, DEL, C1, and the Unicode line separators and bidi overrides.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: object, one_line: bool = False) -> str:
    """Outside text made safe to print (with ``markup=False`` or as a ``rich.text.Text``): control
    characters escaped (``\\x1b``), API keys redacted; ``one_line`` folds newlines to spaces."""
    shown = redact(str(text))
    if one_line:
        shown = " ".join(shown.split("\n"))
    return _CONTROLS.sub(_escape, shown)


class _PlainRecords(logging.Filter):
    """Log records as plain one-line text: what they quote from servers cannot drive the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: left to the handler to report
            return True
        record.msg, record.args = plain(message), None
        return True


def setup_logging(verbose: int = 0) -> None:
    """Log to stderr through rich: warnings by default, ``-v`` info, ``-vv`` debug; records are
    printed as plain text (``plain``), never as markup."""
    from rich.logging import RichHandler

    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = RichHandler(console=err_console, show_path=False, markup=False)
    handler.addFilter(_PlainRecords())
    logging.basicConfig(level=level, format="%(message)s", force=True, handlers=[handler])


def fail(message: str, status: ExitStatus) -> int:
    """Print a one-line error (plain text: no markup, controls escaped) and return its exit status."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", plain(message, one_line=True)),
                      highlight=False, soft_wrap=True)
    return int(status)


def flags_as_flags(command: Any) -> Any:
    """Show on/off options as bare flags in ``--help`` (``--json``, not ``--json <bool>``), in every
    sub-command."""
    for param in command.params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    make_help_option = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make_help_option(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        flags_as_flags(sub)
    return command


# Options users reach for that are spelled otherwise here: click's "did you mean" only finds
# near-spellings, so these name the option that does the job (when the command has it).
OPTION_SYNONYMS = {"--train": "--ratios", "--val": "--ratios", "--valid": "--ratios",
                   "--validation": "--ratios", "--test": "--ratios", "--output": "--out"}


def _suggest_option(exc: Exception) -> None:
    """Point an unknown option that means one of the command's options at it."""
    name = getattr(exc, "option_name", None)
    ctx = getattr(exc, "ctx", None)
    if getattr(exc, "possibilities", True) or ctx is None or name not in OPTION_SYNONYMS:
        return
    known = {opt for param in ctx.command.params for opt in getattr(param, "opts", ())}
    if OPTION_SYNONYMS[name] in known:
        exc.possibilities = [OPTION_SYNONYMS[name]]  # type: ignore[attr-defined]


def run_app(app: typer.Typer, argv: list[str] | None, prog_name: str) -> int:
    """Run a Typer app; map exceptions to a one-line message and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    lineage.use_command([prog_name, *args])
    command = flags_as_flags(typer.main.get_command(app))
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return fail("interrupted", ExitStatus.INTERRUPTED)
    except typer.TyperException as exc:  # usage errors and bad parameters
        if debug:
            raise
        _suggest_option(exc)
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
        return fail(INTERRUPTED, ExitStatus.INTERRUPTED)
    except (OSError, MemoryError) as exc:
        if debug:
            raise
        return fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)",
                    ExitStatus.ERROR)
    if result == ExitStatus.INTERRUPTED:  # Ctrl-C: typer turns it into a silent return of 130
        return fail(INTERRUPTED, ExitStatus.INTERRUPTED)
    return result if isinstance(result, int) else int(ExitStatus.OK)


def print_json(data: Any) -> None:
    """Print data as JSON on stdout (for scripts); C1 controls and bidi overrides, which JSON leaves
    raw, are written as ``\\u`` escapes."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
    sys.stdout.flush()


class RichProgress:
    """The library's :class:`~manifests.progress.Progress` hook on rich bars; silent when disabled.

    The first ``total`` opens the main bar; ``task`` opens further bars (one per video or epoch) in
    the same display, ``note`` prints a line above them. Safe to call from worker threads.
    """

    def __init__(self, enabled: bool = True, transient: bool = False) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as _RichProgress

        self._bar = _RichProgress(
            TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
            disable=not enabled, transient=transient)
        self.enabled = enabled
        self._task: Any = None

    def total(self, n: int | None, description: str = "") -> None:
        if self._task is None:
            self._task = self._bar.add_task(description, total=n)
        else:
            self._bar.update(self._task, total=n, description=description or None)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, n)

    def task(self, description: str, total: int | None = None, transient: bool = False) -> _RichTask:
        return _RichTask(self._bar, self._bar.add_task(description, total=total), transient)

    def done(self) -> None:
        pass  # the main bar stays until the display stops

    def note(self, message: str) -> None:
        if self.enabled:
            self._bar.console.print(message, highlight=False, markup=False)

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()


class _RichTask:
    """One more bar in a :class:`RichProgress` display."""

    def __init__(self, bar: _RichProgress, task: Any, transient: bool) -> None:
        self._bar, self._task, self._transient = bar, task, transient

    def total(self, n: int | None, description: str = "") -> None:
        self._bar.update(self._task, total=n, description=description or None)

    def advance(self, n: int = 1) -> None:
        self._bar.advance(self._task, n)

    def task(self, description: str, total: int | None = None, transient: bool = False) -> _RichTask:
        return _RichTask(self._bar, self._bar.add_task(description, total=total), transient)

    def done(self) -> None:
        if self._transient:
            self._bar.remove_task(self._task)

    def note(self, message: str) -> None:
        if not self._bar.disable:
            self._bar.console.print(message, highlight=False, markup=False)
