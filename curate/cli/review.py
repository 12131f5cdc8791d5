"""``curate review``: parse, start the local web app, print its URL; the app is :mod:`curate.review`.

The web stack (Starlette, uvicorn) is the ``review`` extra, imported inside the command so ``curate
--help`` stays fast; without it the command says how to install it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from manifests import MissingToolError
from manifests.cliargs import DEFAULT_MANIFEST, JsonOpt, ManifestArg, use_manifest
from manifests.console import print_json

from .options import Command
from .render import show


def review_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    run: Annotated[Path | None, typer.Option(help="A train run folder: its predictions.csv feeds the "
                                             "model-mistakes view.", metavar="runs/NAME")] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: a free one).")] = 0,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")
                            ] = False,
    check: Annotated[bool, typer.Option("--check", help="Read the manifest (and the run), say what the "
                                        "app would show, start nothing.")] = False,
    thumb_size: Annotated[int, typer.Option(help="Longer side of a thumbnail, pixels.")] = 128,
    batch_seconds: Annotated[float, typer.Option(help="Seconds a decision waits for others before "
                                                 "the batch is written.")] = 1.0,
    as_json: JsonOpt = False,
) -> int:
    """Look at the images in a browser and decide: relabel, reject, restore, choose a cluster's keeper.

    Starts a local web app on 127.0.0.1 (a free port, a random token in the URL; it prints the URL and
    opens nothing unless --open). Views: the grid with filters and sorts, label issues worst first,
    duplicate clusters, model mistakes (--run). Each decision is written to the manifest within
    seconds (locked, atomic, a lineage line `by: review`); undo reverts the last one.
    """
    from curate.review import ReviewOptions, ReviewResult, summarize

    options = ReviewOptions(port=port, run=run, thumb_size=thumb_size, batch_seconds=batch_seconds)
    use_manifest(manifest)
    if check:
        return show(summarize(manifest, options), as_json)
    try:
        from curate.review.app import ReviewServer
    except ImportError as exc:
        raise MissingToolError(f"curate review needs the review extra ({exc.name} is missing): "
                               "pip install 'gleanset[review]'") from None
    server = ReviewServer(manifest, options)
    result = ReviewResult(**server.review.store.counts())
    result.url = server.url
    if as_json:
        print_json(result.to_dict())
    else:
        show(result, False)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    server.serve()
    return 0


REVIEW = Command("review", review_cmd, """Examples:

  curate review                                      # manifest.csv here; prints the URL to open

  curate review data/manifest.csv --open             # and opens it in the default browser

  curate review data/manifest.csv --run runs/cogs    # with the model-mistakes view

  curate review data/manifest.csv --check --json     # what it would show; starts nothing
""")
