"""Guards the fetcher applies to what servers send: where a URL may lead, and how long it may wait.

Server-side request forgery: a post's media link, or any redirect on the way to it, may point at
``169.254.169.254`` (cloud metadata), ``10.x`` or ``localhost``. ``check_url`` refuses such targets
*after* DNS resolution (a public-looking name that resolves to a private address is refused too);
the fetcher calls it before every hop of a redirect chain. ``allow_private`` (``--allow-private``)
lifts the check for people harvesting their own LAN servers. When requests go through a proxy
(``HTTPS_PROXY``/``HTTP_PROXY``), host names are the proxy's to resolve, so only literal private
addresses and ``localhost`` names are refused.

Limits: the address is checked just before the connection is made, not on the connected socket, so a
DNS server that answers differently within a second (rebinding) is not caught.

``parse_wait`` turns a ``Retry-After`` or ``x-ratelimit-reset`` header into seconds; it never raises
and never returns a negative or non-finite number, whatever the server sent. ``WaitBudget`` is the
total of retry and rate-limit waits one run accepts.
"""

from __future__ import annotations

import email.utils
import ipaddress
import math
import socket
import threading
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class Refused(Exception):
    """A URL that points at a non-public address."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def uses_proxy(url: str) -> bool:
    """True when the environment routes this URL through a proxy (and does not exempt it)."""
    host = urlsplit(url).hostname or ""
    proxies = urllib.request.getproxies()
    scheme = urlsplit(url).scheme
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host)


def check_url(url: str, allow_private: bool = False, proxied: bool | None = None) -> None:
    """Raise ``Refused`` when ``url`` leads to a loopback, private, link-local or reserved address."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return  # requests reports a URL without a host itself
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        raise Refused(f"refused {host}: a local address (--allow-private to harvest your own servers)")
    literal = _literal(host)
    if literal is not None:
        if not _is_public(literal):
            raise Refused(f"refused {literal}: not a public address (--allow-private to allow it)")
        return
    if proxied if proxied is not None else uses_proxy(url):
        return  # the proxy resolves the name
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return  # the request itself fails and says why
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise Refused(f"refused {host}: it resolves to {address}, not a public address "
                          "(--allow-private to allow it)")


def parse_wait(headers: Any, now: float | None = None) -> float | None:
    """Seconds a 429/503 asks us to wait (``Retry-After`` seconds or date, ``x-ratelimit-reset``).

    Total: garbage is ``None``; negative, past dates and ``-0`` become 0; ``inf``/``nan`` are ``None``.
    """
    try:
        value = headers.get("Retry-After")
        reset = headers.get("x-ratelimit-reset")
    except Exception:  # headers are outside data: nothing they hold may raise
        return None
    for text in (value, reset):
        seconds = _seconds(text, now)
        if seconds is not None:
            return seconds
    return None


def _seconds(text: object, now: float | None) -> float | None:
    if not isinstance(text, str | bytes) or not text.strip():
        return None
    text = text.decode("latin-1") if isinstance(text, bytes) else text
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = when - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class WaitBudget:
    """Seconds of retry and rate-limit waits one run may spend in all; thread-safe."""

    def __init__(self, seconds: float) -> None:
        self.left = float(seconds)
        self._lock = threading.Lock()

    def take(self, seconds: float) -> bool:
        """Reserve ``seconds`` of waiting; ``False`` (nothing taken) when the budget cannot pay."""
        with self._lock:
            if seconds > self.left:
                return False
            self.left -= seconds
            return True


class ByteBudget:
    """Bytes all downloads in flight may hold in memory together; thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        """Reserve ``n`` bytes; ``False`` (nothing taken) when that would pass the limit."""
        with self._lock:
            if self.used + n > self.limit:
                return False
            self.used += n
            self.peak = max(self.peak, self.used)
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.used -= n
