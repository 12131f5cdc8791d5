"""Per-host opt-outs read before any download: robots.txt (RFC 9309) and TDMRep's tdmrep.json.

:class:`HostRules` asks each origin (scheme, host and port) of the images for ``/robots.txt`` and
``/.well-known/tdmrep.json`` once, through the one fetcher (:mod:`harvest.fetch`: its guard, retries,
mirrors and limits), and answers :meth:`HostRules.check` for every image URL:

- robots.txt is parsed by protego for our product token (``gleanset``), whose group, when the file
  has one, replaces ``*``'s (RFC 9309 §2.2.1); a ``Disallow`` that matches the image's path skips it.
  Only the first :data:`ROBOTS_LIMIT` bytes are read and parsed (§2.5 asks for at least 500 KiB), so a
  5 MB file costs 512 KiB. A 4xx answer means no rules (§2.3.1.3: "unavailable", allow). A 5xx, 429,
  a network error or an answer slower than the policy's ``deadline`` means "unreachable": complete
  disallow (§2.3.1.4). Those images become rows with the transient status the fetch ended with
  (``network``, ``server_error``, ``rate_limited``), so a later run asks again instead of recording
  them as opted out for good;
- tdmrep.json's first matching rule with ``tdm-reservation`` 1 skips the image. A missing, unreadable
  or malformed file means the site does not use the protocol (the report's rule). The report lets a
  response's ``tdm-reservation: 0`` header overrule the file; an image the file reserves is not
  requested at all, so that header is never seen (the stricter reading).

Answers are cached in memory for the run and in the manifest's archive (:mod:`manifests.archive`,
collector ``optout-hosts``) for :data:`TTL` seconds (RFC 9309 §2.4: a cached robots.txt is used for
at most 24 hours); an unreachable robots.txt is never cached. :meth:`check` is called from the one
thread that lists the downloads.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from manifests import schema
from manifests.archive import Archive
from manifests.redact import redact

from ..fetch import Fetcher, FetchOptions, FetchResult
from .signals import ROBOTS, TDMREP, Finding, OptoutPolicy, TdmRule, tdmrep_match, tdmrep_rules

log = logging.getLogger(__name__)

ROBOTS_LIMIT = 512 * 1024  # bytes of robots.txt read and parsed (RFC 9309 §2.5: at least 500 KiB)
TDMREP_LIMIT = 512 * 1024
CACHE = "optout-hosts"
TTL = 24 * 3600.0
ROBOTS_PATH = "/robots.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"


@dataclass(frozen=True)
class _Robots:
    """One origin's robots.txt: its parser (``None``: no rules), or why it was unreachable."""

    url: str
    parser: Protego | None = None
    unreachable: str | None = None
    status: str = schema.NETWORK


def origin_and_path(url: str) -> tuple[str, str]:
    """``(scheme://host[:port], /path?query)`` of a URL; ``("", "")`` when it has no host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", ""
    if not parts.netloc:
        return "", ""
    origin = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return origin, path


def _unreachable(result: FetchResult) -> bool:
    """RFC 9309 §2.3.1.4: 5xx, 429 and no answer at all; a 4xx (§2.3.1.3) and a refused address are not."""
    if result.status in (schema.OK, schema.REFUSED):
        return False
    if result.status == schema.HTTP_ERROR:
        return (result.http_status or 0) >= 500
    return True


class HostRules:
    """robots.txt and tdmrep.json of every image origin, fetched once, cached in the archive.

    Example::

        with HostRules(FetchOptions(), OptoutPolicy(), Archive("data/manifest.csv")) as hosts:
            finding = hosts.check("https://example.org/art/cat.png")   # None: no rule against it
    """

    def __init__(self, fetch: FetchOptions, policy: OptoutPolicy, archive: Archive | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy, self.archive, self.clock = policy, archive, clock
        self._fetcher = Fetcher(dataclasses.replace(
            fetch, reject=None, truncate=True, max_bytes=ROBOTS_LIMIT,
            deadline=min(fetch.deadline, policy.deadline),
            spool_bytes=max(fetch.spool_bytes, 2 * ROBOTS_LIMIT),
            memory_budget=max(fetch.memory_budget, 4 * ROBOTS_LIMIT)))
        self._robots: dict[str, _Robots] = {}
        self._tdmrep: dict[str, tuple[TdmRule, ...]] = {}
        self._cached: dict[str, dict[str, Any]] | None = None
        self.fetched = 0  # files asked for in this run (the cache answered the others)

    def check(self, url: str) -> Finding | None:
        """The first host rule against downloading ``url``: robots.txt, then tdmrep.json."""
        origin, path = origin_and_path(url)
        if not origin:
            return None
        robots = self._robots_of(origin)
        if robots.unreachable:
            return Finding(ROBOTS, f"robots.txt unreachable ({robots.unreachable}): complete disallow "
                           "per RFC 9309, asked again next run", robots.url, robots.status)
        if robots.parser is not None and not robots.parser.can_fetch(path, self.policy.agent):
            return Finding(ROBOTS, f"Disallow for {self.policy.agent} matches {path}", robots.url)
        rule = tdmrep_match(self._tdmrep_of(origin), path.split("?", 1)[0])
        if rule is not None and rule.reservation == 1:
            policy = f", policy {rule.policy}" if rule.policy else ""
            return Finding(TDMREP, f"tdm-reservation 1 for {rule.location}{policy}", origin + TDMREP_PATH)
        return None

    # -- robots.txt ------------------------------------------------------------------------------
    def _robots_of(self, origin: str) -> _Robots:
        if origin not in self._robots:
            url = origin + ROBOTS_PATH
            cached = self._cache(origin, ROBOTS)
            if cached is not None:
                text = cached.get("text")
                self._robots[origin] = _Robots(url, Protego.parse(text) if text else None)
            else:
                self._robots[origin] = self._fetch_robots(origin, url)
        return self._robots[origin]

    def _fetch_robots(self, origin: str, url: str) -> _Robots:
        result = self._get(url)
        if _unreachable(result):
            why = redact(result.error or result.status)
            log.warning("%s unreachable (%s): its images are not downloaded this run", url, why)
            return _Robots(url, unreachable=why,
                           status=result.status if result.status in schema.TRANSIENT else schema.NETWORK)
        text = body_text(result) if result.ok else None
        self._store(origin, ROBOTS, {"text": text})
        return _Robots(url, Protego.parse(text) if text else None)

    # -- tdmrep.json -----------------------------------------------------------------------------
    def _tdmrep_of(self, origin: str) -> tuple[TdmRule, ...]:
        if origin not in self._tdmrep:
            cached = self._cache(origin, TDMREP)
            if cached is not None:
                rules = tdmrep_rules(cached.get("rules"))
            else:
                result = self._get(origin + TDMREP_PATH)
                document = _json(body_text(result)) if result.ok else None
                rules = tdmrep_rules(document)
                if not _unreachable(result):
                    self._store(origin, TDMREP, {"rules": [_rule_json(r) for r in rules]})
            self._tdmrep[origin] = rules
        return self._tdmrep[origin]

    # -- fetching and the archive ----------------------------------------------------------------
    def _get(self, url: str) -> FetchResult:
        self.fetched += 1
        result = self._fetcher.get(url)
        result.discard()
        return result

    def _cache(self, origin: str, what: str) -> dict[str, Any] | None:
        """A cached answer younger than :data:`TTL`, or ``None``."""
        if self.archive is None:
            return None
        if self._cached is None:
            self._cached = self.archive.entries(CACHE)
        entry = self._cached.get(f"{origin}\t{what}")
        at = entry.get("at") if entry else None
        if not isinstance(at, int | float) or not 0 <= self.clock() - at < TTL:
            return None
        return entry

    def _store(self, origin: str, what: str, info: dict[str, Any]) -> None:
        if self.archive is not None:
            self.archive.add(CACHE, f"{origin}\t{what}", "", {**info, "at": self.clock()})

    def close(self) -> None:
        self._fetcher.close()

    def __enter__(self) -> HostRules:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def body_text(result: FetchResult) -> str:
    """A small text file's body as UTF-8 (RFC 9309 §2.3: robots.txt is UTF-8), bad bytes replaced."""
    return (result.data or b"").decode("utf-8", "replace")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _rule_json(rule: TdmRule) -> dict[str, Any]:
    return {"location": rule.location, "tdm-reservation": rule.reservation, "tdm-policy": rule.policy}
