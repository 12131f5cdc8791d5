"""The web app of ``curate review``: Starlette routes served by uvicorn on 127.0.0.1.

Every request carries the token (``?token=`` or the ``X-Review-Token`` header; POSTs only the header,
with a JSON body) and a Host of 127.0.0.1 or localhost; anything else is refused. Files are reached
only through a row: ``/thumb/<sha256>`` and ``/image/<sha256>`` look the sha256 up in the manifest and
serve the file that row names, so no path from the URL reaches the disk. Thumbnails are the report's
(:mod:`curate.report.thumbs`): made on demand on a small thread pool, cached beside the manifest.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from manifests import lineage

from ..report.thumbs import ThumbJob, thumbnails
from .decisions import ACTIONS, Journal
from .options import ReviewOptions
from .rows import Query, RowStore
from .views import clusters, page

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
HEADER = "x-review-token"


class Review:
    """The app's state: the rows, the journal of decisions, the options; ``app`` is the ASGI app."""

    def __init__(self, manifest: Path, options: ReviewOptions, command: str | None = None) -> None:
        self.options = options
        self.store = RowStore(Path(manifest), options.predictions())
        self.journal = Journal(self.store, command or lineage.command_line(), options.batch_seconds,
                               options.lock_wait)
        self.thumbs = anyio.CapacityLimiter(options.thumb_workers)
        routes = [Route("/", self.index), Route("/api/facets", self.facets), Route("/api/rows", self.rows),
                  Route("/api/clusters", self.clusters), Route("/api/changes", self.changes),
                  Route("/api/state", self.state), Route("/thumb/{sha}", self.thumb),
                  Route("/image/{sha}", self.image),
                  Route("/api/decide", self.decide, methods=["POST"]),
                  Route("/api/undo", self.undo, methods=["POST"])]
        self.app = Starlette(routes=routes, lifespan=self._lifespan, middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=[HOST, "localhost"]),
            Middleware(_TokenGuard, token=options.token)])

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.journal.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(self.journal.close)  # the last batch is written

    async def index(self, request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        body = page(self.store, self.options.token, nonce, self.store.path.name, self.options.run is not None)
        return HTMLResponse(body, headers={"Content-Security-Policy": (
            f"default-src 'none'; img-src 'self'; connect-src 'self'; script-src 'nonce-{nonce}'; "
            f"style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'")})

    async def facets(self, request: Request) -> Response:
        await anyio.to_thread.run_sync(self.journal.reload_if_changed)
        return JSONResponse(self.store.facets())

    async def rows(self, request: Request) -> Response:
        query = Query.parse(request.query_params, self.options.page_size)
        return JSONResponse(await anyio.to_thread.run_sync(self.store.page, query))

    async def clusters(self, request: Request) -> Response:
        query = Query.parse(request.query_params, self.options.page_size)
        mixed = request.query_params.get("mixed") == "yes"
        return JSONResponse(await anyio.to_thread.run_sync(
            clusters, self.store, query.offset, max(1, query.limit // 4), mixed))

    async def changes(self, request: Request) -> Response:
        return JSONResponse(self.journal.changes())

    async def state(self, request: Request) -> Response:
        await anyio.to_thread.run_sync(self.journal.reload_if_changed)
        return JSONResponse(self.journal.state())

    async def thumb(self, request: Request) -> Response:
        sha = request.path_params["sha"]
        path = self.store.file_for(sha)
        if path is None:
            return PlainTextResponse("no such image in the manifest", status_code=404)
        job = ThumbJob(path, sha)
        made = await anyio.to_thread.run_sync(
            lambda: thumbnails([job], self.store.root, self.options.thumb_size, workers=1)[job.key],
            limiter=self.thumbs)
        if made is None:
            return PlainTextResponse("the image does not open", status_code=404)
        return Response(made, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    async def image(self, request: Request) -> Response:
        path = self.store.file_for(request.path_params["sha"])
        if path is None:
            return PlainTextResponse("no such image in the manifest", status_code=404)
        return FileResponse(path, headers={"Cache-Control": "private, max-age=86400"})

    async def decide(self, request: Request) -> Response:
        body = await _json(request)
        action, shas, value = body.get("action"), body.get("shas"), body.get("value")
        if action not in ACTIONS or not isinstance(shas, list) or not all(isinstance(s, str) for s in shas) \
                or not (value is None or (isinstance(value, str) and value.strip())):
            return JSONResponse({"error": f"give an action ({', '.join(ACTIONS)}), shas and a value"},
                                status_code=400)
        if action == "label" and value is None:
            return JSONResponse({"error": "a label decision needs a value"}, status_code=400)
        decision = await anyio.to_thread.run_sync(self.journal.decide, action, shas, value)
        return JSONResponse({"decision": decision.to_dict() if decision else None, **self.journal.state()})

    async def undo(self, request: Request) -> Response:
        await _json(request)
        undone = await anyio.to_thread.run_sync(self.journal.undo)
        return JSONResponse({"undone": undone.to_dict() if undone else None, **self.journal.state()})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class _TokenGuard:
    """Refuse a request without the token; a POST must carry it in the header, with a JSON body."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.headers.get(HEADER, "")
        if request.method == "GET":
            given = given or request.query_params.get("token", "")
        elif request.method != "POST" or request.headers.get("content-type", "").split(";")[0] \
                != "application/json":
            given = ""
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            response = PlainTextResponse("refused: this needs the token from the URL curate review printed",
                                         status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Server(uvicorn.Server):
    """uvicorn's server, remembering whether a signal (not ``stop()``) ended it."""

    signalled = False

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.signalled = True
        super().handle_exit(sig, frame)


class ReviewServer:
    """The app on a socket of 127.0.0.1: ``serve()`` until Ctrl-C, or ``start()``/``stop()`` (tests)."""

    def __init__(self, manifest: Path, options: ReviewOptions, command: str | None = None) -> None:
        self.review = Review(manifest, options, command)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((HOST, options.port))
        except OSError as exc:
            self.socket.close()
            from manifests import UsageError

            raise UsageError(f"--port {options.port}: cannot listen on {HOST} ({exc.strerror})") from None
        self.socket.listen(128)  # the printed URL answers at once: connections wait for uvicorn
        self.port = self.socket.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/?token={options.token}"
        config = uvicorn.Config(self.review.app, log_level="warning", lifespan="on", access_log=False)
        self.server = _Server(config)
        self._thread: threading.Thread | None = None

    def serve(self) -> None:
        """Serve until the server is told to stop (Ctrl-C); the last batch is written on the way out.

        A Ctrl-C or SIGTERM ends in ``KeyboardInterrupt`` (exit status 130) whatever the moment it came:
        uvicorn raises the signal again after its shutdown, but asyncio's runner can swallow that
        second signal when the serving task has just finished.
        """
        self.server.run(sockets=[self.socket])
        if self.server.signalled:
            raise KeyboardInterrupt

    def start(self) -> None:
        """Serve from a thread; return once it answers."""
        self._thread = threading.Thread(target=self.serve, name="review-server", daemon=True)
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            self._thread.join(0.02)

    def stop(self) -> None:
        """Stop the thread started by :meth:`start` (queued decisions are written first)."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self.socket.close()
