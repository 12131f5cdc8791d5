"""``curate review``: a local web app to look at the images and decide, every decision written to the
manifest.

- :mod:`.options`: :class:`ReviewOptions`, :func:`summarize` and :class:`ReviewResult` (no web stack);
- :mod:`.rows`: the manifest in memory, re-read when it changes on disk; filters, sorts, pages;
- :mod:`.decisions`: what a decision sets, the journal of decisions, batches written through
  :func:`manifests.update` with a lineage line each (``by: review``);
- :mod:`.views`: the duplicate-cluster view and the page (assets/: HTML, CSS, script; no build step);
- :mod:`.app`: the Starlette routes, the token and host checks, uvicorn (the ``review`` extra).

From Python::

    from curate.review import ReviewOptions
    from curate.review.app import ReviewServer

    server = ReviewServer(Path("data/manifest.csv"), ReviewOptions())
    print(server.url)
    server.serve()  # until Ctrl-C
"""

from .options import ReviewOptions, ReviewResult, summarize

__all__ = ["ReviewOptions", "ReviewResult", "summarize"]
