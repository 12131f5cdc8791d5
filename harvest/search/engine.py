"""The image-search engine base: a query becomes pages of results, each result a future manifest row.

An engine is one module under ``harvest.search`` with one class that sets a few class attributes and
implements ``page`` (one API call: a query and a cursor in, a ``Page`` of ``Result`` out, with the
cursor of the next page or ``None`` at the end). The base walks the pages (``walk``): it stops at the
caller's limit and at the engine's documented depth cap, spaces API calls by the engine's rate limit and
resumes from a cursor. Every API call goes through the one fetcher (``harvest.fetch``), so 429 answers
with ``Retry-After``, 5xx retries and timeouts are handled once. Constructing an engine does no I/O.

What an engine can filter is declared in ``filters`` (``license``, ``dates``, ``safe``); asking an
engine for a filter it cannot apply is a ``UsageError`` naming the engines that can
(``harvest.search.registry.check_filters``). Keys come from environment variables named in ``keys``.

What an API answers is outside data: a ``Result`` converts its fields totally (text or ``None``,
integers that fit 64 bits or ``None``: ``1e400`` and ``"nan"`` are missing values), and an answer whose
shape an engine cannot read (nested too deep, a list where an object belongs) fails its query with an
``EngineError`` in one line while the other queries go on.
"""

from __future__ import annotations

import html
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from typing import Any, ClassVar

from manifests import GleansetError, NetworkError, UsageError

from ..fetch import Fetcher
from ..netguard import host_of
from ..values import finite_int, text

log = logging.getLogger(__name__)

LICENSE = "license"
DATES = "dates"
SAFE = "safe"
# Licence codes --license takes (Openverse's vocabulary); engines map them to their own.
LICENSES = ("by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd", "cc0", "pdm")
# Licence kinds --license also takes (Openverse's license_type): each allows these codes.
LICENSE_TYPES = {"commercial": ("by", "by-sa", "by-nd", "cc0", "pdm"),
                 "modification": ("by", "by-sa", "by-nc", "by-nc-sa", "cc0", "pdm")}
Cursor = Any  # JSON-able: a page number, or an engine's continuation parameters
# What reading an answer of an unexpected shape raises (a list where an object belongs, deep nesting).
SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError, OverflowError, RecursionError)


class EngineError(NetworkError):
    """An engine answered, but not with results (an error object, a shape we cannot read)."""


@dataclass(frozen=True)
class Filters:
    """What a search asks the engine to filter; ``None``/empty means "not asked"."""

    licenses: tuple[str, ...] = ()
    after: date | None = None
    before: date | None = None
    safe: bool | None = None

    def asked(self) -> set[str]:
        """The filter kinds this search asks for."""
        kinds = set()
        if self.licenses:
            kinds.add(LICENSE)
        if self.after or self.before:
            kinds.add(DATES)
        if self.safe is not None:
            kinds.add(SAFE)
        return kinds

    @property
    def codes(self) -> tuple[str, ...]:
        """The licence codes asked for (kinds such as ``commercial`` excluded)."""
        return tuple(c for c in self.licenses if c not in LICENSE_TYPES)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The licence kinds asked for (``commercial``, ``modification``)."""
        return tuple(c for c in self.licenses if c in LICENSE_TYPES)

    def allowed(self) -> tuple[str, ...]:
        """The licence codes that pass both the codes and the kinds asked for, in ``LICENSES`` order."""
        wanted = set(self.codes or LICENSES)
        for kind in self.kinds:
            wanted &= set(LICENSE_TYPES[kind])
        return tuple(c for c in LICENSES if c in wanted)

    def key(self) -> str:
        """A stable text naming these filters (finished pages are recorded per query and filters)."""
        return (f"license={','.join(sorted(self.licenses))};after={self.after or ''};"
                f"before={self.before or ''};safe={'' if self.safe is None else int(self.safe)}")


@dataclass(frozen=True)
class Result:
    """One search result: the image URL and what the engine says about it."""

    url: str
    page_url: str | None = None
    title: str | None = None
    creator: str | None = None
    creator_url: str | None = None
    license: str | None = None
    license_url: str | None = None
    provider: str | None = None
    width: int | None = None
    height: int | None = None
    problem: str | None = None  # why a result has no usable ``url`` (it becomes a counted skip)

    def __post_init__(self) -> None:
        """Fields as the manifest takes them, whatever the API sent: text or ``None``, integers that
        fit 64 bits or ``None``. A result without a URL says why in ``problem``."""
        for name in ("page_url", "title", "creator", "creator_url", "license", "license_url", "provider"):
            object.__setattr__(self, name, text(getattr(self, name)))
        object.__setattr__(self, "url", text(self.url) or "")
        object.__setattr__(self, "width", finite_int(self.width))
        object.__setattr__(self, "height", finite_int(self.height))
        if not self.url and not self.problem:
            object.__setattr__(self, "problem", "no image URL in the answer")

    @property
    def usable(self) -> bool:
        """Whether there is a URL to download."""
        return bool(self.url)

    @property
    def source_domain(self) -> str | None:
        """Host name of the page the image is shown on (of the image itself without a page)."""
        host = host_of(self.page_url or self.url).strip("[]")
        return host.removeprefix("www.") or None


@dataclass(frozen=True)
class Page:
    """One API answer: results in rank order and the cursor of the next page (``None``: no more)."""

    results: list[Result]
    next: Cursor = None
    total: int | None = None  # results the engine says the query has, when it says


@dataclass(frozen=True)
class Listed:
    """A page as ``walk`` hands it on: which cursor asked for it, its results and where to go next."""

    cursor: Cursor
    results: list[Result]  # the results taken (a limit may cut the last page short)
    skipped: int  # results at the head of the page taken by an earlier run
    size: int  # results the page held
    next: Cursor
    rank: int  # rank of the page's first result, 1-based
    capped: str | None = None  # why listing stops here (a depth cap), for the summary


@dataclass(frozen=True)
class EngineConfig:
    """How an engine reaches its API: base URL, environment (keys), wait between calls, a client."""

    base_url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    api_interval: float | None = None
    client: Any = None  # an engine's own client object (ddgs: its search function)
    sleep: Callable[[float], None] = time.sleep


class Engine(ABC):
    """Base of image-search engines.

    Subclasses set ``name``, ``base_url`` (the real host; tests pass another), ``keys`` (environment
    variables it needs, all of them), ``filters`` (what it can filter), ``page_size``, ``depth_cap``
    (results per query the API serves at most, or ``None``), ``api_interval`` (seconds between calls,
    from the API's documented rate limit), ``about`` (one line for ``--help``) and implement ``page``.
    """

    name: ClassVar[str]
    base_url: ClassVar[str]
    keys: ClassVar[tuple[str, ...]] = ()
    filters: ClassVar[frozenset[str]] = frozenset()
    page_size: ClassVar[int] = 20
    depth_cap: ClassVar[int | None] = None
    api_interval: ClassVar[float] = 0.0
    about: ClassVar[str]
    first: ClassVar[Cursor] = 1
    key_note: ClassVar[str] = ""  # what getting a key takes, said where the key is asked for
    notice: ClassVar[str] = ""  # one line shown the first time the engine is used in a manifest

    def __init__(self, fetcher: Fetcher, config: EngineConfig | None = None) -> None:
        self.fetcher = fetcher
        self.config = config or EngineConfig()
        self.base = (self.config.base_url or self.base_url).rstrip("/")
        self._last_call: float | None = None

    # -- what subclasses use --------------------------------------------------------------------
    def key(self, variable: str) -> str:
        """A key from the environment; a missing one is a ``UsageError`` naming the variable."""
        value = self.config.env.get(variable)
        if not value:
            note = f" ({self.key_note})" if self.key_note else ""
            raise UsageError(f"the {self.name} engine needs a key: set {variable} in the "
                             f"environment{note}")
        return value

    def call(self, path: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """GET one API page as JSON through the fetcher, spaced by the engine's rate limit."""
        interval = self.config.api_interval if self.config.api_interval is not None \
            else self.current_interval()
        if self._last_call is not None and interval > 0:
            wait = self._last_call + interval - time.monotonic()
            if wait > 0:
                self.config.sleep(wait)
        try:
            return self.fetcher.get_json(self.base + path, params, headers)
        finally:
            self._last_call = time.monotonic()

    def current_interval(self) -> float:
        return self.api_interval

    def current_cap(self) -> int | None:
        """The depth cap that applies to this run (may depend on credentials)."""
        return self.depth_cap

    def cap_note(self, cap: int) -> str:
        return f"{self.name} serves at most {cap} results per query"

    # -- the contract -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Check keys (and fetch a token) before the first page; raises ``UsageError`` on a missing key."""
        for variable in self.keys:
            self.key(variable)

    @abstractmethod
    def page(self, query: str, cursor: Cursor, filters: Filters, want: int) -> Page:
        """One page of results for ``query`` at ``cursor``; ``want`` is how many more are wanted."""

    def read_page(self, query: str, cursor: Cursor, filters: Filters, want: int) -> Page:
        """``page``, with an answer of a shape the engine cannot read failing as an ``EngineError``."""
        try:
            return self.page(query, cursor, filters, want)
        except GleansetError:
            raise
        except SHAPE_ERRORS as exc:
            raise EngineError(f"{self.name} answered {query!r} with a shape it cannot read "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from exc

    def walk(self, query: str, filters: Filters, limit: int, start: Cursor = None,
             skip: int = 0, rank: int = 1) -> Iterator[Listed]:
        """Pages of ``query`` from ``start`` (the first page by default) until ``limit`` results are
        listed, the engine has no more, or its depth cap is reached.

        ``skip`` drops results at the head of the first page (taken by an earlier run); ``rank`` is
        the rank of the first result listed, 1-based.
        """
        cursor = self.first if start is None else start
        cap = self.current_cap()
        while rank <= limit:
            if cap is not None and rank > cap:
                return
            page = self.read_page(query, cursor, filters, limit - rank + 1)
            size = len(page.results)
            room = min(limit, cap if cap is not None else limit) - rank + 1
            taken = page.results[skip:skip + room]
            after = rank + len(taken)
            more = page.next is not None or size >= (cap or 0)  # one-call engines fill the cap
            capped = self.cap_note(cap) if cap is not None and after > cap and more \
                and limit > cap else None
            cut = skip + len(taken) < size
            yield Listed(cursor, taken, skip, size, None if not size else page.next, rank, capped)
            if not size or page.next is None or cut:
                return
            rank, skip, cursor = after, 0, page.next


class _Text(HTMLParser):
    """Text and first link of an HTML fragment (Commons' ``Artist`` field)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and self.href is None:
            self.href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def strip_html(fragment: str | None) -> tuple[str | None, str | None]:
    """The plain text of an HTML fragment and its first link (protocol-relative links get https)."""
    if not fragment:
        return None, None
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    text = " ".join(html.unescape("".join(parser.parts)).split()) or None
    href = parser.href
    if href and href.startswith("//"):
        href = "https:" + href
    return text, href


def normalize_license(name: str | None, version: str | None = None) -> str | None:
    """A licence as ``by-sa 4.0``, ``cc0 1.0``, ``pdm``: lower case, without a ``CC`` prefix."""
    if not name:
        return None
    text = " ".join(str(name).lower().replace("_", "-").split())
    text = text.removeprefix("cc ").removeprefix("cc-") if text not in ("cc0", "cc-0") else "cc0"
    text = text.replace("cc-0", "cc0")
    return f"{text} {version}" if version and version not in text else text


def unusable(why: str, item: Any = None) -> Result:
    """A result that cannot be downloaded (no URL at any size, not an object): it is still a result
    the engine listed, so ``harvest search`` counts it as a skip saying ``why``."""
    page = item.get("foreign_landing_url") or item.get("url") or item.get("link") \
        if isinstance(item, dict) else None
    return Result(url="", page_url=page if isinstance(page, str) else None, problem=why)


def ladder(item: Any, keys: tuple[str, ...]) -> tuple[str, str] | None:
    """The first of ``keys`` (an engine's sizes, largest first) whose value in ``item`` is a non-empty
    URL string: ``(key, url)``; ``None`` when none is."""
    if not isinstance(item, dict):
        return None
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return key, value.strip()
    return None


def as_int(value: Any) -> int | None:
    """An integer from an API field that may be missing, null, a string or a float; ``None`` for
    anything else (``"nan"``, ``1e400``, a list, more than 64 bits)."""
    return finite_int(value)
