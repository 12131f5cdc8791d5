"""The one HTTP fetcher: every download and API call gleanset makes goes through ``Fetcher``.

A ``Fetcher`` holds a pooled ``requests`` session with a configurable User-Agent and does, per URL:

- timeouts (connect and read) and a maximum size enforced while streaming: the download is aborted as
  soon as it passes ``max_bytes`` (or the ``Content-Length`` says it will), it is never buffered whole;
- retries with exponential backoff and full jitter on 5xx answers, connection errors, resets and bodies
  that end before their ``Content-Length``;
- 429 handling that waits as long as ``Retry-After`` (seconds or an HTTP date) or Reddit's
  ``x-ratelimit-reset`` asks, up to ``max_wait``;
- sniffing of the real type from the first bytes (``sniff``), whatever the ``Content-Type`` claims.

Every call returns a ``FetchResult`` whose ``status``/``error`` become a manifest row; no per-URL failure
raises. ``Fetcher.map`` runs many downloads on a thread pool (``workers``) with at most ``per_host``
requests to one host at a time. ``get_json`` is for API calls, where a failure fails the whole run and
raises ``NetworkError``. ``mirrors`` rewrite URL prefixes at request time (a mirror, or a test server),
while results keep the URL that was asked for.
"""

from __future__ import annotations

import dataclasses
import email.utils
import importlib.metadata
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from manifests import NetworkError, UsageError, schema

from .store import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return importlib.metadata.version("gleanset")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


DEFAULT_USER_AGENT = f"python:gleanset:{_version()} (dataset harvester)"
RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 522, 524})
_SIGNATURES = (
    (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"BM", "bmp"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"\x1aE\xdf\xa3", "webm"),
)
T = TypeVar("T")
J = TypeVar("J")


@dataclass(frozen=True)
class FetchOptions:
    """How the fetcher talks to servers.

    Attributes:
        user_agent: the User-Agent header (Reddit and imgur refuse generic ones).
        workers: parallel downloads in ``map``.
        per_host: at most this many requests to one host at a time.
        timeout: seconds to connect and between bytes read.
        retries: extra attempts after a 5xx, a connection error or a 429.
        backoff: base of the exponential backoff in seconds (attempt n waits up to backoff * 2**n).
        max_backoff: longest backoff wait.
        max_wait: longest wait a 429 may ask for; longer ones fail the item as ``rate_limited``.
        max_bytes: downloads larger than this are aborted (``too_large``).
        chunk: bytes read per streaming step.
        mirrors: ``(prefix, replacement)`` pairs applied to URLs before requesting them.
    """

    user_agent: str = DEFAULT_USER_AGENT
    workers: int = 16
    per_host: int = 8
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_wait: float = 300.0
    max_bytes: int = DEFAULT_MAX_BYTES
    chunk: int = 64 * 1024
    mirrors: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if min(self.workers, self.per_host, self.max_bytes, self.chunk) < 1:
            raise UsageError("--workers, --per-host and --max-bytes must be 1 or more")
        if not self.timeout > 0 or self.retries < 0 or min(self.backoff, self.max_backoff,
                                                           self.max_wait) < 0:
            raise UsageError(f"--timeout must be above 0 and --retries 0 or more, not {self.timeout} "
                             f"and {self.retries}")
        if any(len(pair) != 2 or not all(pair) for pair in self.mirrors):
            raise UsageError("--mirror takes PREFIX=URL pairs")


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one download; ``status`` is ``ok`` or why not (``http_error``, ``network``, ...)."""

    url: str
    status: str
    error: str | None = None
    data: bytes | None = None
    final_url: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    sniffed: str | None = None
    attempts: int = 1
    robots_tag: str | None = None  # the X-Robots-Tag header(s) of the answer, joined by ", "

    @property
    def ok(self) -> bool:
        return self.status == schema.OK


class _Retry(Exception):
    """An attempt that may succeed when repeated: wait ``delay`` seconds (or back off) and try again."""

    def __init__(self, status: str, error: str, delay: float | None = None,
                 http_status: int | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.delay, self.http_status = status, error, delay, http_status


def sniff(data: bytes) -> str | None:
    """The real type of some bytes from their first bytes: ``jpeg``, ``png``, ``html``, ``mp4``, ..."""
    head = data[:64]
    for sign, kind in _SIGNATURES:
        if head.startswith(sign):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "avif" if brand in (b"avif", b"avis") else "heic" if brand.startswith(b"hei") else "mp4"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "html"
    if text.startswith((b"<svg", b"<?xml")):
        return "svg"
    if text.startswith((b"{", b"[")):
        return "json"
    return None


def retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds a 429 (or 503) asks us to wait: ``Retry-After`` (seconds or date) or ``x-ratelimit-reset``."""
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.replace(".", "", 1).isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when - (time.time() if now is None else now))
    reset = headers.get("x-ratelimit-reset")
    try:
        return float(reset) if reset else None
    except ValueError:
        return None


class Fetcher:
    """A pooled HTTP session with retries, rate-limit waits, size limits and per-host concurrency.

    Example::

        with Fetcher(FetchOptions(workers=8)) as fetcher:
            for url, result in fetcher.map(urls, lambda url, result: (url, result)):
                print(url, result.status, len(result.data or b""))

    ``sleep`` is injectable so tests can record the waits instead of sleeping them.
    """

    def __init__(self, options: FetchOptions = FetchOptions(),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers["User-Agent"] = options.user_agent
        adapter = HTTPAdapter(pool_connections=max(4, options.workers),
                              pool_maxsize=max(4, options.workers), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._hosts_lock = threading.Lock()

    # -- one URL ------------------------------------------------------------------------------
    def resolve(self, url: str) -> str:
        """The URL actually requested, after the ``mirrors`` rewrites."""
        for prefix, replacement in self.options.mirrors:
            if url.startswith(prefix):
                return replacement + url[len(prefix):]
        return url

    def unresolve(self, url: str) -> str:
        """Undo ``resolve`` on a URL the server answered from (e.g. after a redirect)."""
        for prefix, replacement in self.options.mirrors:
            if url.startswith(replacement):
                return prefix + url[len(replacement):]
        return url

    def _host_slot(self, url: str) -> threading.BoundedSemaphore:
        host = urlsplit(url).netloc
        with self._hosts_lock:
            if host not in self._hosts:
                self._hosts[host] = threading.BoundedSemaphore(self.options.per_host)
            return self._hosts[host]

    def get(self, url: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> FetchResult:
        """Download one URL (``headers`` added to the request); never raises for a per-URL failure."""
        target = self.resolve(url)
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._host_slot(target):
                    result = self._attempt(url, target, params, headers)
                return dataclasses.replace(result, attempts=attempt)
            except _Retry as retry:
                if attempt > self.options.retries:
                    return FetchResult(url, retry.status, f"{retry.error} (after {attempt} attempts)",
                                       http_status=retry.http_status, attempts=attempt)
                delay = self._delay(retry, attempt)
                if delay is None:
                    return FetchResult(url, retry.status, retry.error, http_status=retry.http_status,
                                       attempts=attempt)
                log.info("retrying %s in %.2fs: %s", url, delay, retry.error)
                self.sleep(delay)

    def _delay(self, retry: _Retry, attempt: int) -> float | None:
        opts = self.options
        if retry.delay is not None:
            return retry.delay if retry.delay <= opts.max_wait else None
        return random.uniform(0, min(opts.max_backoff, opts.backoff * 2 ** (attempt - 1)))

    def _attempt(self, url: str, target: str, params: dict[str, Any] | None,
                 headers: dict[str, str] | None = None) -> FetchResult:
        opts = self.options
        try:
            with self.session.get(target, params=params, headers=headers, stream=True,
                                  timeout=opts.timeout) as resp:
                code = resp.status_code
                if code == 429:
                    wait_s = retry_after(resp.headers)
                    raise _Retry(schema.RATE_LIMITED, "HTTP 429 Too Many Requests",
                                 delay=opts.backoff if wait_s is None else wait_s, http_status=code)
                if code in RETRY_STATUSES:
                    raise _Retry(schema.SERVER_ERROR, f"HTTP {code} {resp.reason}", http_status=code,
                                 delay=retry_after(resp.headers))
                if code >= 400:
                    return FetchResult(url, schema.HTTP_ERROR, f"HTTP {code} {resp.reason}",
                                       http_status=code, final_url=self.unresolve(resp.url))
                return self._read_body(url, resp)
        except requests.exceptions.ChunkedEncodingError as exc:
            raise _Retry(schema.TRUNCATED, f"connection closed mid-body: {_reason(exc)}") from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise _Retry(schema.NETWORK, f"{type(exc).__name__}: {_reason(exc)}") from exc
        except requests.exceptions.RequestException as exc:  # invalid URL, too many redirects
            return FetchResult(url, schema.NETWORK, f"{type(exc).__name__}: {_reason(exc)}")

    def _read_body(self, url: str, resp: requests.Response) -> FetchResult:
        limit = self.options.max_bytes
        declared = resp.headers.get("Content-Length")
        meta = {"final_url": self.unresolve(resp.url), "http_status": resp.status_code,
                "content_type": resp.headers.get("Content-Type"),
                "robots_tag": resp.headers.get("X-Robots-Tag")}
        if declared and declared.isdigit() and int(declared) > limit:
            return FetchResult(url, schema.TOO_LARGE, f"Content-Length {declared} is over the "
                               f"{limit}-byte limit; not downloaded", **meta)
        buf = bytearray()
        for chunk in resp.iter_content(self.options.chunk):
            buf += chunk
            if len(buf) > limit:
                return FetchResult(url, schema.TOO_LARGE, f"aborted after {len(buf)} bytes, over the "
                                   f"{limit}-byte limit", **meta)
        if declared and declared.isdigit() and len(buf) < int(declared):
            raise _Retry(schema.TRUNCATED, f"body ended after {len(buf)} of {declared} bytes")
        data = bytes(buf)
        return FetchResult(url, schema.OK, None, data, sniffed=sniff(data), **meta)

    def get_json(self, url: str, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> Any:
        """GET a JSON API; any failure fails the whole run with ``NetworkError``."""
        result = self.get(url, params, headers)
        if not result.ok or result.data is None:
            raise NetworkError(f"{url} failed: {result.error}")
        return _json(url, result.data, result.sniffed)

    def post_json(self, url: str, data: dict[str, str]) -> Any:
        """POST a form to a JSON API (a token endpoint), once; a failure raises ``NetworkError``."""
        try:
            resp = self.session.post(self.resolve(url), data=data, timeout=self.options.timeout)
        except requests.exceptions.RequestException as exc:
            raise NetworkError(f"{url} failed: {type(exc).__name__}: {_reason(exc)}") from exc
        if resp.status_code >= 400:
            raise NetworkError(f"{url} failed: HTTP {resp.status_code} {resp.reason}")
        return _json(url, resp.content, sniff(resp.content))

    # -- many URLs ----------------------------------------------------------------------------
    def map(self, jobs: Iterable[J], handle: Callable[[J, FetchResult], T],
            url: Callable[[J], str] = str) -> Iterator[T]:
        """Download ``url(job)`` for every job on the pool; yield ``handle(job, result)`` as each finishes.

        ``handle`` runs on the worker thread (verify and store the bytes there); the caller consumes
        results in completion order. Jobs are read lazily, at most ``4 * workers`` in flight.
        """
        def work(job: J) -> T:
            return handle(job, self.get(url(job)))

        pending: set[Future[T]] = set()
        window = 4 * self.options.workers
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="fetch") as pool:
            try:
                for job in jobs:
                    pending.add(pool.submit(work, job))
                    if len(pending) >= window:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        yield from (f.result() for f in done)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            finally:
                for future in pending:
                    future.cancel()

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json(url: str, data: bytes, sniffed: str | None) -> Any:
    try:
        return requests.models.complexjson.loads(data)
    except ValueError as exc:
        raise NetworkError(f"{url} did not answer JSON ({sniffed or 'unknown'} bytes)") from exc


def _reason(exc: BaseException) -> str:
    """A requests exception on one short line."""
    text = str(exc.args[0] if exc.args else exc) or type(exc).__name__
    return " ".join(text.split())[:300]
