"""``X-Robots-Tag`` on image answers: does the server ask that the image not be used for AI?

The header holds comma-separated directives, optionally after a user-agent prefix
(``otherbot: noai``) that limits what follows to that agent. ``noai`` and ``noimageai`` addressed to
everyone, to ``*`` or to gleanset block the image, as img2dataset does by default.
"""

from __future__ import annotations

BLOCKING = frozenset({"noai", "noimageai"})
OUR_AGENTS = frozenset({"*", "gleanset"})
# Directives that take a value after a colon (not user-agent prefixes).
_VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})


def blocking_directive(header: str | None) -> str | None:
    """The first directive of an ``X-Robots-Tag`` value that forbids AI use by us, or ``None``."""
    if not header:
        return None
    agent: str | None = None
    for piece in header.split(","):
        piece = piece.strip().lower()
        head, sep, rest = piece.partition(":")
        if sep and head.strip() not in _VALUED:
            agent, piece = head.strip(), rest.strip()
        for directive in piece.split():
            if directive in BLOCKING and (agent is None or agent in OUR_AGENTS):
                return directive
    return None
