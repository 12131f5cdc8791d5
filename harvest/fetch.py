"""The one HTTP fetcher: every download and API call gleanset makes goes through ``Fetcher``.

A ``Fetcher`` holds a pooled ``requests`` session with a configurable User-Agent and does, per URL:

- timeouts (connect and read) and a maximum size enforced while streaming: the download is aborted as
  soon as it passes ``max_bytes`` (or the ``Content-Length`` says it will), it is never buffered whole;
- retries with exponential backoff and full jitter on 5xx answers, connection errors, resets and bodies
  that end before their ``Content-Length``;
- 429 handling that waits as long as ``Retry-After`` (seconds or an HTTP date) or Reddit's
  ``x-ratelimit-reset`` asks, up to ``max_wait``; every header parse is total (a negative or garbage
  value never raises), and waits come out of a per-run ``wait_budget``;
- a total ``deadline`` per URL (retries, waits and a server trickling one byte a second included);
- no requests to loopback, private, link-local or reserved addresses, checked after DNS resolution
  on every redirect hop (:mod:`harvest.netguard`), unless ``allow_private``; the host checked is the
  one urllib3 connects to, and addresses that parsers read differently are refused;
- credentials stay with their origin: a redirect to another scheme, host or port drops the
  ``Authorization``, ``X-Subscription-Token``, cookie and API-key headers the caller added
  (``CREDENTIAL_HEADERS``), as requests does for ``Authorization``;
- decompressed bytes capped: ``max_bytes`` per body, ``max_ratio`` for ``Content-Encoding`` bodies
  (gzip bombs) and ``memory_budget`` for all bodies in flight together; bodies over ``spool_bytes``
  are streamed to a temporary file instead (``FetchResult.file``). Peak memory for bodies stays under
  ``min(memory_budget, workers * spool_bytes)`` (512 MiB with the defaults) plus one copy of each
  image being verified;
- sniffing of the real type from the first bytes (``sniff``, the one sniffer in :mod:`manifests.images`),
  whatever the ``Content-Type`` claims;
- an optional ``reject`` check on each download's final URL and headers, before its body is read: an
  answer the caller knows stands for removed content (imgur's ``removed.png``, recognised by its URL
  or its ``ETag``) ends as ``removed`` without downloading it, and one that carries an opt-out signal
  (:mod:`harvest.optout`) ends with the ``Refusal``'s own status; API calls (``get_json``) are not
  screened;
- ``truncate``: a body over ``max_bytes`` is cut there and kept (a robots.txt, of which RFC 9309 asks
  that at least the first 500 KiB be parsed), instead of failing as ``too_large``.

Every call returns a ``FetchResult`` whose ``status``/``error`` become a manifest row; no per-URL failure
raises. ``Fetcher.map`` runs many downloads on a thread pool (``workers``) with at most ``per_host``
requests to one host at a time. ``get_json`` is for API calls, where a failure fails the whole run and
raises ``NetworkError``; ``post_json`` (a token endpoint) goes through the same guard, follows no
redirect (the form holds a client secret) and reads at most ``POST_MAX_BYTES``. ``mirrors`` rewrite URL
prefixes at request time (a mirror, or a test server), while results keep the URL that was asked for.
Error texts are redacted (:func:`manifests.redact.redact`): an API key in a URL's query string never
reaches a row, a log line or an exception message.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import requests
import urllib3
from requests.adapters import HTTPAdapter

from manifests import NetworkError, UsageError, schema
from manifests.images import sniff
from manifests.redact import redact
from manifests.store import DEFAULT_MAX_BYTES

from .netguard import ByteBudget, Refused, WaitBudget, check_url, host_of, parse_wait, uses_proxy

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return importlib.metadata.version("gleanset")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


DEFAULT_USER_AGENT = f"python:gleanset:{_version()} (dataset harvester)"
RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 522, 524})
POST_MAX_BYTES = 1024 * 1024  # a token endpoint's answer is a few hundred bytes
# Request headers that carry credentials: sent to the origin they were meant for, never past a
# redirect to another one. Any header whose name holds one of CREDENTIAL_WORDS counts too.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-subscription-token"})
CREDENTIAL_WORDS = ("auth", "token", "key", "secret", "password", "session")
DEFAULT_PORTS = {"http": 80, "https": 443}
T = TypeVar("T")
J = TypeVar("J")


@dataclass(frozen=True)
class Refusal:
    """What a ``reject`` check returns to refuse an answer with a status of its own (``opted_out``);
    ``note`` goes to ``FetchResult.note`` (the opt-out signal and where it came from)."""

    status: str
    error: str
    note: str | None = None


# Looks at a download's answer before its body is read: (final URL as asked, response headers) -> why
# the answer is refused as ``removed`` (a string), a ``Refusal`` with its own status, or ``None``.
# Module-level functions and frozen dataclasses with ``__call__`` travel to Dask workers; lambdas do not.
Reject = Callable[[str, Mapping[str, str]], "str | Refusal | None"]


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
        deadline: seconds one URL may take in all (attempts, waits and slow bodies).
        wait_budget: seconds of retry and 429 waits the whole run accepts; URLs that need more
            fail with their status and are listed in ``Fetcher.report()``.
        allow_private: also fetch loopback, private and link-local addresses (your own LAN).
        max_redirects: redirect hops followed per request.
        max_ratio: largest decoded/wire size ratio of a ``Content-Encoding`` body (gzip bombs).
        memory_budget: bytes all bodies being downloaded may hold in memory together.
        spool_bytes: bodies larger than this go to a temporary file (``FetchResult.file``).
        reject: checks each successful download's final URL and headers before the body is read; a
            reason it returns ends the download as ``removed`` (``schema.REMOVED``), a ``Refusal`` with
            its status, body unread. ``get_json`` (API calls) skips it.
        truncate: cut bodies over ``max_bytes`` there and keep them (``ok``) instead of ``too_large``.
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
    deadline: float = 600.0
    wait_budget: float = 1800.0
    allow_private: bool = False
    max_redirects: int = 10
    max_ratio: float = 200.0
    memory_budget: int = 1024 * 1024 * 1024
    spool_bytes: int = 32 * 1024 * 1024
    reject: Reject | None = None
    truncate: bool = False

    def __post_init__(self) -> None:
        if self.reject is not None and not callable(self.reject):
            raise UsageError("FetchOptions.reject must be callable (url, headers) -> reason or None")
        if min(self.workers, self.per_host, self.max_bytes, self.chunk) < 1:
            raise UsageError("--workers, --per-host and --max-bytes must be 1 or more")
        if not self.timeout > 0 or self.retries < 0 or min(self.backoff, self.max_backoff,
                                                           self.max_wait) < 0:
            raise UsageError(f"--timeout must be above 0 and --retries 0 or more, not {self.timeout} "
                             f"and {self.retries}")
        if any(len(pair) != 2 or not all(pair) for pair in self.mirrors):
            raise UsageError("--mirror takes PREFIX=URL pairs")
        if not self.deadline > 0 or not self.wait_budget >= 0 or self.max_redirects < 0:
            raise UsageError(f"--deadline must be above 0 and --wait-budget 0 or more, not "
                             f"{self.deadline} and {self.wait_budget}")
        if not self.max_ratio > 1 or min(self.memory_budget, self.spool_bytes) < self.chunk:
            raise UsageError("max_ratio must be above 1, memory_budget and spool_bytes at least "
                             "one chunk")


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
    file: str | None = None  # a body over ``spool_bytes``: on disk here, ``data`` is None
    robots_tag: str | None = None  # the X-Robots-Tag header(s) of the answer, joined by ", "
    tdm_reservation: str | None = None  # the answer's TDMRep ``tdm-reservation`` header
    note: str | None = None  # what a ``reject`` check's ``Refusal`` said (an opt-out signal)

    @property
    def ok(self) -> bool:
        return self.status == schema.OK

    def body(self) -> bytes | None:
        """The body's bytes, read from ``file`` when it was spooled to disk."""
        if self.data is not None or self.file is None:
            return self.data
        return Path(self.file).read_bytes()

    def discard(self) -> None:
        """Delete the spooled file, if any (``Fetcher.map`` does it once ``handle`` returned)."""
        if self.file:
            Path(self.file).unlink(missing_ok=True)


class _Deadline(Exception):
    """The URL's total deadline passed."""


class _Retry(Exception):
    """An attempt that may succeed when repeated: wait ``delay`` seconds (or back off) and try again."""

    def __init__(self, status: str, error: str, delay: float | None = None,
                 http_status: int | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.delay, self.http_status = status, error, delay, http_status


def retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds a 429 (or 503) asks us to wait; never negative, never raises (see ``parse_wait``)."""
    return parse_wait(headers, now)


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
        self._waits = WaitBudget(options.wait_budget)
        self.memory = ByteBudget(options.memory_budget)
        self._report_lock = threading.Lock()
        self.over_budget: list[str] = []  # URLs given up because the run's wait budget was spent
        self.over_deadline: list[str] = []  # URLs given up at their deadline

    def report(self) -> dict[str, Any]:
        """What the run's limits cost: URLs skipped for the wait budget or the per-URL deadline."""
        return {"wait_budget_left_s": round(self._waits.left, 1),
                "skipped_wait_budget": len(self.over_budget),
                "skipped_deadline": len(self.over_deadline),
                "skipped_examples": (self.over_budget + self.over_deadline)[:20],
                "peak_body_bytes": self.memory.peak}

    def _give_up(self, kind: list[str], url: str) -> None:
        with self._report_lock:
            kind.append(redact(url))

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
        host = host_of(url)
        with self._hosts_lock:
            if host not in self._hosts:
                self._hosts[host] = threading.BoundedSemaphore(self.options.per_host)
            return self._hosts[host]

    def get(self, url: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None, screen: bool = True) -> FetchResult:
        """Download one URL (``headers`` added to the request); never raises for a per-URL failure.
        ``screen=False`` skips the ``reject`` check (an API call, not a download)."""
        target = self.resolve(url)
        deadline = time.monotonic() + self.options.deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._host_slot(target):
                    result = self._attempt(url, target, params, deadline, headers, screen)
                return dataclasses.replace(result, attempts=attempt)
            except _Retry as retry:
                if attempt > self.options.retries:
                    return FetchResult(url, retry.status, f"{retry.error} (after {attempt} attempts)",
                                       http_status=retry.http_status, attempts=attempt)
                delay = self._delay(retry, attempt)
                if delay is None:
                    return FetchResult(url, retry.status, retry.error, http_status=retry.http_status,
                                       attempts=attempt)
                why = self._cannot_wait(url, delay, deadline)
                if why:
                    return FetchResult(url, retry.status, f"{retry.error}; {why}",
                                       http_status=retry.http_status, attempts=attempt)
                log.info("retrying %s in %.2fs: %s", redact(url), delay, retry.error)
                self.sleep(delay)

    def _cannot_wait(self, url: str, delay: float, deadline: float) -> str | None:
        """Why waiting ``delay`` seconds before the next attempt is not allowed, or ``None``."""
        if time.monotonic() + delay >= deadline:
            self._give_up(self.over_deadline, url)
            return f"not retried: the {self.options.deadline:g} s deadline per URL comes first"
        if not self._waits.take(delay):
            self._give_up(self.over_budget, url)
            return f"not retried: the run's {self.options.wait_budget:g} s wait budget is spent"
        return None

    def _delay(self, retry: _Retry, attempt: int) -> float | None:
        opts = self.options
        if retry.delay is not None:
            return max(0.0, retry.delay) if retry.delay <= opts.max_wait else None
        return random.uniform(0, min(opts.max_backoff, opts.backoff * 2 ** (attempt - 1)))

    def _open(self, target: str, params: dict[str, Any] | None, deadline: float,
              headers: dict[str, str] | None = None, data: dict[str, str] | None = None) -> requests.Response:
        """GET ``target`` (or POST ``data`` to it), following redirects by hand so that every hop is
        checked first and credentials in ``headers`` never leave their origin. A POST follows no
        redirect: the redirect itself is returned."""
        opts = self.options
        proxied = uses_proxy(target) if not opts.allow_private else False
        first = target
        for _ in range(opts.max_redirects + 1):
            check_url(target, opts.allow_private, proxied)
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Deadline()
            timeout = min(opts.timeout, left)
            resp = self.session.request("GET" if data is None else "POST", target, params=params,
                                        data=data, headers=headers, stream=True,
                                        timeout=(timeout, timeout), allow_redirects=False)
            if not resp.is_redirect or data is not None:
                return resp
            target = urljoin(resp.url, resp.headers["location"])
            params = None
            if not same_origin(first, target):
                headers = without_credentials(headers)
            resp.close()
        raise requests.exceptions.TooManyRedirects(f"more than {opts.max_redirects} redirects")

    def _attempt(self, url: str, target: str, params: dict[str, Any] | None,
                 deadline: float, headers: dict[str, str] | None = None,
                 screen: bool = True) -> FetchResult:
        opts = self.options
        try:
            with self._open(target, params, deadline, headers) as resp:
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
                rejected = self._rejected(url, resp) if screen else None
                return rejected if rejected is not None else self._read_body(url, resp, deadline)
        except Refused as exc:
            return FetchResult(url, schema.REFUSED, str(exc))
        except _Deadline:
            self._give_up(self.over_deadline, url)
            return FetchResult(url, schema.NETWORK, f"gave up: the {opts.deadline:g} s deadline "
                               "per URL passed")
        except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError) as exc:
            raise _Retry(schema.TRUNCATED, f"connection closed mid-body: {_reason(exc)}") from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                urllib3.exceptions.ReadTimeoutError, OSError) as exc:
            raise _Retry(schema.NETWORK, f"{type(exc).__name__}: {_reason(exc)}") from exc
        except urllib3.exceptions.DecodeError as exc:
            return FetchResult(url, schema.CORRUPT, f"Content-Encoding does not decode: {_reason(exc)}")
        except requests.exceptions.RequestException as exc:  # invalid URL, too many redirects
            return FetchResult(url, schema.NETWORK, f"{type(exc).__name__}: {_reason(exc)}")
        except ValueError as exc:  # a URL requests' own helpers cannot split (``http://[x/``)
            return FetchResult(url, schema.NETWORK, f"InvalidURL: {_reason(exc)}")

    def _rejected(self, url: str, resp: requests.Response) -> FetchResult | None:
        """A ``removed`` result when ``reject`` refuses this answer (its body is never read)."""
        if self.options.reject is None:
            return None
        final = self.unresolve(resp.url)
        why = self.options.reject(final, resp.headers)
        if not why:
            return None
        refusal = why if isinstance(why, Refusal) else Refusal(schema.REMOVED, why)
        log.info("%s: not downloaded: %s", url, refusal.error)
        return FetchResult(url, refusal.status, refusal.error, final_url=final,
                           http_status=resp.status_code, content_type=resp.headers.get("Content-Type"),
                           note=refusal.note)

    def _read_body(self, url: str, resp: requests.Response, deadline: float,
                   limit: int | None = None) -> FetchResult:
        limit = self.options.max_bytes if limit is None else limit
        declared = resp.headers.get("Content-Length", "").strip()
        declared_n = int(declared) if declared.isdigit() else None
        encoded = resp.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
        meta = {"final_url": self.unresolve(resp.url), "http_status": resp.status_code,
                "content_type": resp.headers.get("Content-Type"),
                "robots_tag": resp.headers.get("X-Robots-Tag"),
                "tdm_reservation": resp.headers.get("tdm-reservation")}
        cut = self.options.truncate
        if declared_n is not None and declared_n > limit and not encoded and not cut:
            return FetchResult(url, schema.TOO_LARGE, f"Content-Length {declared} is over the "
                               f"{limit}-byte limit; not downloaded", **meta)
        body = _Body(self)
        try:
            while chunk := resp.raw.read1(self.options.chunk, decode_content=True):
                if time.monotonic() > deadline:
                    raise _Deadline()
                body.add(chunk)
                if cut and body.size >= limit:  # the first ``limit`` bytes are all that is wanted
                    return body.result(url, meta, limit)
                failure = self._over(body.size, resp, encoded, limit)
                if failure:
                    return FetchResult(url, schema.TOO_LARGE, failure, **meta)
            wire = resp.raw.tell()
            if declared_n is not None and wire < declared_n:
                raise _Retry(schema.TRUNCATED, f"body ended after {wire} of {declared} bytes")
            return body.result(url, meta)
        finally:
            body.close()

    def _over(self, size: int, resp: requests.Response, encoded: bool, limit: int) -> str | None:
        """Why the body read so far is refused (too large, a decompression bomb), or ``None``."""
        if size > limit:
            return f"aborted after {size} bytes, over the {limit}-byte limit"
        if encoded and size > 1024 * 1024:
            wire = max(1, resp.raw.tell())
            if size / wire > self.options.max_ratio:
                return (f"decompression bomb: {wire} bytes on the wire decoded to over {size} "
                        f"(ratio above {self.options.max_ratio:g})")
        return None

    def get_json(self, url: str, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> Any:
        """GET a JSON API; any failure fails the whole run with ``NetworkError``."""
        result = self.get(url, params, headers, screen=False)
        try:  # an answer over spool_bytes was streamed to a file: read it, then delete it
            body = result.body() if result.ok else None
        finally:
            result.discard()
        if body is None:
            raise NetworkError(f"{url} failed: {result.error or 'no body'}")
        return _json(url, body, result.sniffed)

    def post_json(self, url: str, data: dict[str, str], max_bytes: int = POST_MAX_BYTES) -> Any:
        """POST a form to a JSON API (a token endpoint), once; a failure raises ``NetworkError``.

        The address is guarded like every request's; a redirect is not followed (the form holds a
        client secret) and fails; the answer is read up to ``max_bytes``.
        """
        shown = redact(url)
        deadline = time.monotonic() + self.options.deadline
        try:
            with self._open(self.resolve(url), None, deadline, data=data) as resp:
                if resp.is_redirect:
                    raise NetworkError(f"{shown} answered the POST with HTTP {resp.status_code}, a "
                                       "redirect; not followed (the form holds credentials)")
                if resp.status_code >= 400:
                    raise NetworkError(f"{shown} failed: HTTP {resp.status_code} {resp.reason}")
                result = self._read_body(url, resp, deadline, min(max_bytes, self.options.max_bytes))
        except Refused as exc:
            raise NetworkError(f"{shown}: {exc}") from exc
        except _Retry as exc:
            raise NetworkError(f"{shown} failed: {exc.error}") from exc
        except _Deadline as exc:
            raise NetworkError(f"{shown} failed: the {self.options.deadline:g} s deadline passed") from exc
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise NetworkError(f"{shown} failed: {type(exc).__name__}: {_reason(exc)}") from exc
        try:
            body = result.body()
        finally:
            result.discard()
        if not result.ok or body is None:
            raise NetworkError(f"{shown} failed: {result.error}")
        return _json(url, body, result.sniffed)

    # -- many URLs ----------------------------------------------------------------------------
    def map(self, jobs: Iterable[J], handle: Callable[[J, FetchResult], T],
            url: Callable[[J], str] = str) -> Iterator[T]:
        """Download ``url(job)`` for every job on the pool; yield ``handle(job, result)`` as each finishes.

        ``handle`` runs on the worker thread (verify and store the bytes there); the caller consumes
        results in completion order. Jobs are read lazily, at most ``4 * workers`` in flight.
        """
        def work(job: J) -> T:
            result = self.get(url(job))
            try:
                return handle(job, result)
            finally:
                result.discard()

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


class _Body:
    """A body being downloaded: in memory (under the fetcher's budget) up to ``spool_bytes``, then
    in a temporary file, so a large video never sits in memory whole."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher, self.size, self.head = fetcher, 0, b""
        self.buf = bytearray()
        self.file: Any = None

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.file is not None:
            self.file.write(chunk)
            return
        budget = self.fetcher.memory
        if not budget.take(len(chunk)):
            raise _Retry(schema.NETWORK, f"{budget.limit}-byte memory budget in use by parallel "
                         "downloads")
        self.buf += chunk
        if len(self.buf) > self.fetcher.options.spool_bytes:
            self.head = bytes(self.buf[:64])
            # closed by result() or close(): the file outlives this call
            self.file = tempfile.NamedTemporaryFile(prefix="gleanset-body-", suffix=".part",  # noqa: SIM115
                                                    delete=False)
            self.file.write(self.buf)
            budget.give(len(self.buf))
            self.buf = bytearray()

    def result(self, url: str, meta: dict[str, Any], cut: int | None = None) -> FetchResult:
        if self.file is None:
            data = bytes(self.buf[:cut])
            return FetchResult(url, schema.OK, None, data, sniffed=sniff(data), **meta)
        if cut is not None:
            self.file.truncate(cut)
        self.file.close()
        name, self.file = self.file.name, None
        return FetchResult(url, schema.OK, None, None, sniffed=sniff(self.head), file=name, **meta)

    def close(self) -> None:
        self.fetcher.memory.give(len(self.buf))
        self.buf = bytearray()
        if self.file is not None:  # a failed or refused body: its file goes
            self.file.close()
            Path(self.file.name).unlink(missing_ok=True)


def _json(url: str, data: bytes, sniffed: str | None) -> Any:
    try:
        return requests.models.complexjson.loads(data)
    except RecursionError as exc:  # a server's [[[[...]]]]: one line, never a traceback
        raise NetworkError(f"{redact(url)} answered JSON nested too deeply to read") from exc
    except ValueError as exc:
        raise NetworkError(f"{url} did not answer JSON ({sniffed or 'unknown'} bytes)") from exc


def _reason(exc: BaseException) -> str:
    """A requests exception on one short line, secrets in its URL redacted."""
    text = str(exc.args[0] if exc.args else exc) or type(exc).__name__
    return " ".join(redact(text).split())[:300]


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL (the port filled in for http and https)."""
    try:
        parts = urllib3.util.parse_url(url)
    except (ValueError, urllib3.exceptions.LocationParseError):
        return "", url, None
    scheme = (parts.scheme or "").lower()
    return scheme, (parts.host or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def same_origin(first: str, then: str) -> bool:
    """Whether credentials meant for ``first`` may go to ``then``: same scheme, host and port, or the
    same host moving from http on port 80 to https on port 443 (requests' rule for ``Authorization``)."""
    a, b = _origin(first), _origin(then)
    return a == b or (a[1] == b[1] and a[0::2] == ("http", 80) and b[0::2] == ("https", 443))


def without_credentials(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """``headers`` without those that carry credentials (``CREDENTIAL_HEADERS``, ``X-Api-Key``...)."""
    if headers is None:
        return None
    return {name: value for name, value in headers.items()
            if name.lower() not in CREDENTIAL_HEADERS
            and not any(word in name.lower() for word in CREDENTIAL_WORDS)}
