"""Parameters and habits every gleanset command line shares (imported by the CLIs; light imports only).

- :data:`ManifestArg` and :func:`use_manifest`: the manifest is an optional positional argument that
  defaults to ``manifest.csv`` in the current folder, and the command says which file it used::

      def stats_cmd(manifest: ManifestArg = DEFAULT_MANIFEST, ...):
          frame = read(use_manifest(manifest))

- sizes in human units through :func:`size_param` (``--max-bytes 256MB``, ``1.5GiB`` or a plain
  number of bytes), :func:`parse_size` and :func:`format_size`;
- :data:`VersionOpt`, :data:`DebugOpt` and :data:`VerboseOpt` for each app's callback, so ``--version``
  answers and ``--debug`` is listed in ``--help``.

Heavy libraries (pandas, torch, PIL, matplotlib...) are imported inside command functions, never at
the top of a CLI module, so ``--help`` and ``--version`` stay fast; ``tests/test_cli_startup.py``
checks that.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import InputError, UsageError

DEFAULT_MANIFEST = Path("manifest.csv")
# --json on every command that prints a summary: the same flag and words in harvest, curate and train.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]

ManifestArg = Annotated[Path, typer.Argument(
    help="Manifest (.csv or .parquet); by default manifest.csv in the current folder.",
    show_default=True)]

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Bytes from ``256MB``, ``1.5GiB``, ``64k`` or a plain number (SI units are powers of 1000,
    ``KiB``/``MiB``/``GiB`` of 1024)."""
    if isinstance(text, int):
        return text
    match = _SIZE.fullmatch(str(text))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise UsageError(f"{text!r} is not a size: use bytes or a unit, e.g. 256MB, 1.5GiB, 500k")
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(n: int) -> str:
    """The shortest exact human form of a byte count (``268435456`` -> ``256MiB``)."""
    for unit in ("TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "kB"):
        factor = _UNITS[unit.lower()]
        if n >= factor and n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def size_param(value: str | int) -> int:
    """The ``parser`` of a size option::

        max_bytes: Annotated[int, typer.Option(parser=size_param, metavar="SIZE")] = 256 * 2**20
    """
    try:
        return parse_size(value)
    except UsageError as exc:
        raise typer.BadParameter(str(exc)) from None


def use_manifest(path: Path, must_exist: bool = True, quiet: bool = False) -> Path:
    """Check the manifest exists and say (on stderr) which file the command works on."""
    if must_exist and not path.exists():
        where = " in the current folder" if path == DEFAULT_MANIFEST else ""
        raise InputError(f"{path} does not exist{where}; name the manifest as the first argument")
    if not quiet:
        from .console import err_console

        err_console.print(f"manifest: {path}", highlight=False, markup=False, soft_wrap=True)
    return path


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        from .lineage import version

        typer.echo(f"{ctx.find_root().info_name or 'gleanset'} (gleanset) {version()}")
        raise typer.Exit()


def exit_codes() -> str:
    """The exit-code table of every command, one line (for epilogs; the README has the same table)."""
    from .errors import ExitStatus

    return "Exit codes: " + ", ".join(f"{int(s)} {s.name.lower().replace('_', ' ')}" for s in ExitStatus)


EPILOG = ("Add --debug to any command to see the traceback of an error. " + exit_codes() + ".")


VersionOpt = Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="Show the version and exit.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error instead of "
                                        "one line (anywhere on the command line).")]
VerboseOpt = Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="More log output (-vv for debug).")]

ExecutorOpt = Annotated[str, typer.Option(
    "--executor", help="Where parallel work runs: local (this machine), dask-local[:N] (a Dask "
    "LocalCluster of N worker processes) or dask (an existing cluster, with --cluster). Dask workers "
    "must see the dataset folder and the sources at the same paths.")]
ClusterOpt = Annotated[str | None, typer.Option(
    "--cluster", help="Dask scheduler address for --executor dask, e.g. tcp://10.0.0.5:8786.")]


def executor_spec(executor: str, cluster: str | None, workers: int | None = None) -> Any:
    """The :class:`manifests.executor.ExecutorSpec` the --executor/--cluster options ask for; ``None``
    for the local default."""
    from .executor import ExecutorSpec

    spec = ExecutorSpec.parse(executor, cluster, workers)
    return spec if spec.distributed else None
