"""``curate gc``: parse, call the library (:mod:`curate.gc`), print."""

from __future__ import annotations

from typing import Annotated

import typer

from manifests.cliargs import DEFAULT_MANIFEST, JsonOpt, ManifestArg, use_manifest

from .options import Command
from .render import show


def gc_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    delete: Annotated[bool, typer.Option("--delete", help="Delete the files (default: only list them).")
                      ] = False,
    as_json: JsonOpt = False,
) -> int:
    """Delete image-store files no ok row uses (rows marked removed, duplicate, ...): a dry run unless
    --delete. Only files under the manifest folder's images/ are touched; other manifests in that
    folder keep theirs."""
    from ..gc import GcOptions, gc

    return show(gc(use_manifest(manifest), GcOptions(delete=delete)), as_json)


GC = Command("gc", gc_cmd, """Examples:

  curate gc data/manifest.csv             # list the files no ok row uses (dry run)

  curate gc data/manifest.csv --delete    # delete them
""")
