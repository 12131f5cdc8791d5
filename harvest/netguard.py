"""Guards the fetcher applies to what servers send: where a URL may lead, and how long it may wait.

Server-side request forgery: a post's media link, or any redirect on the way to it, may point at
``169.254.169.254`` (cloud metadata), ``10.x`` or ``localhost``. ``check_url`` refuses such targets
*after* DNS resolution (a public-looking name that resolves to a private address is refused too);
the fetcher calls it before every hop of a redirect chain. ``allow_private`` (``--allow-private``)
lifts the check for people harvesting their own LAN servers. When requests go through a proxy
(``HTTPS_PROXY``/``HTTP_PROXY``), host names are the proxy's to resolve, so only literal private
addresses and ``localhost`` names are refused.

The host judged is the one the HTTP client connects to: URLs are read with urllib3's own parser
(``urllib3.util.parse_url``, which requests uses), not ``urllib.parse``. The two disagree on crafted
authorities (``http://127.0.0.1:80\\@example.com/`` goes to 127.0.0.1; ``urlsplit`` reads
``example.com``), so a URL whose authority holds a backslash or user info, or whose host the two parsers
read differently, is refused outright. IPv4 literals are read as the resolver reads them (``inet_aton``
rules: ``127.1``, ``0x7f000001``, ``2130706433``, ``017700000001`` and ``0`` are all local
addresses), also behind a proxy; IPv6 addresses that embed an IPv4 one (mapped, compatible, 6to4,
NAT64) are judged by it.

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
from urllib.parse import SplitResult, unquote, urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class Refused(Exception):
    """A URL that points at a non-public address."""


NAT64 = ipaddress.ip_network("64:ff9b::/96")
COMPATIBLE = ipaddress.ip_network("::/96")  # IPv4-compatible IPv6 (deprecated, still routed by some)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, 6to4, NAT64), or ``None``."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in NAT64 or (ip in COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_public(address: str) -> bool:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None and not _is_public(str(inner)):
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _aton_part(text: str) -> int | None:
    """One part of an ``inet_aton`` address: decimal, octal (leading 0) or hex (0x); else ``None``."""
    if text[:2].lower() == "0x":
        digits, base = text[2:], 16
    elif len(text) > 1 and text.startswith("0"):
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    if not digits or not digits.isascii() or not digits.isalnum():
        return None
    try:
        return int(digits, base)
    except ValueError:
        return None


def inet_aton(host: str) -> str | None:
    """``host`` as a dotted IPv4 address when the resolver reads it as an IPv4 literal, else ``None``.

    The ``inet_aton`` rules the C library (and so a proxy) applies: one to four parts, each decimal,
    octal or hex, the last part filling the remaining bytes: ``127.1`` is 127.0.0.1, ``0x7f000001`` and
    ``2130706433`` too, ``0`` is 0.0.0.0.
    """
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_aton_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    *head, last = [v for v in values if v is not None]
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for shift, value in enumerate(reversed(head), start=4 - len(head)):
        number |= value << (8 * shift)
    return str(ipaddress.IPv4Address(number))


def _literal(host: str) -> str | None:
    """The IP address ``host`` is a literal of, as the client and resolver read it, or ``None``."""
    v4 = inet_aton(host)
    if v4 is not None:
        return v4
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _same_host(split: SplitResult, client: Url) -> bool:
    """Whether ``urlsplit`` and urllib3 read the same host (case, brackets, %-escapes aside)."""
    ours = unquote(split.hostname or "").rstrip(".")
    theirs = (client.host or "").strip("[]").rstrip(".")
    if not ours.isascii():
        return True  # urllib3 sends it IDNA-encoded; the delimiters that confuse are all ASCII
    return ours.lower() == theirs.lower()


def client_url(url: str) -> Url:
    """``url`` as the HTTP client (urllib3, under requests) reads it.

    Raises ``Refused`` when it does not parse, or when its authority is one that parsers read
    differently: a backslash, user info (``user@``), or a host ``urlsplit`` reads otherwise.
    """
    try:
        split = urlsplit(url)
        client = parse_url(url)
    except (ValueError, LocationParseError) as exc:
        raise Refused(f"refused: the address does not parse ({' '.join(str(exc).split())[:120]})") \
            from exc
    if "\\" in split.netloc:  # urllib3 ends the host there, urlsplit does not
        raise Refused("refused: a backslash in the address's host part (parsers read it differently)")
    if client.auth or "@" in split.netloc:
        raise Refused("refused: user info (user@) in the address")
    if not _same_host(split, client):
        raise Refused(f"refused: the address's host reads as {split.hostname!r} or {client.host!r} "
                      "depending on the parser")
    return client


def host_of(url: str) -> str:
    """The lower-case host the client would connect to, or ``""`` (never raises; for bookkeeping)."""
    try:
        return (parse_url(url).host or "").lower()
    except (ValueError, LocationParseError):
        return ""


def uses_proxy(url: str) -> bool:
    """True when the environment routes this URL through a proxy (and does not exempt it)."""
    host = host_of(url).strip("[]")
    proxies = urllib.request.getproxies()
    try:
        scheme = parse_url(url).scheme or ""
    except (ValueError, LocationParseError):
        scheme = ""
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host)


def check_url(url: str, allow_private: bool = False, proxied: bool | None = None) -> None:
    """Raise ``Refused`` when ``url`` leads to a loopback, private, link-local or reserved address,
    judged on the host the HTTP client connects to (see ``client_url``)."""
    if allow_private:
        return
    client = client_url(url)
    host = (client.host or "").lower().rstrip(".")
    if not host:
        return  # requests reports a URL without a host itself
    bare = host.strip("[]")
    if bare in LOCAL_NAMES or bare.endswith(".localhost"):
        raise Refused(f"refused {bare}: a local address (--allow-private to harvest your own servers)")
    literal = _literal(bare)
    if literal is not None:
        if not _is_public(literal):
            raise Refused(f"refused {literal}: not a public address (--allow-private to allow it)")
        return
    if proxied if proxied is not None else uses_proxy(url):
        return  # the proxy resolves the name
    try:
        infos = socket.getaddrinfo(bare, client.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return  # the request itself fails and says why
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise Refused(f"refused {bare}: it resolves to {address}, not a public address "
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
