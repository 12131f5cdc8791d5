"""Words and sort keys for what curate prints: ``1 cluster``/``2 clusters`` and natural order.

No pandas here, so the CLI can use it while ``--help`` stays fast.
"""

from __future__ import annotations

import re
from typing import Any

_DIGITS = re.compile(r"(\d+)")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_ENTITY = re.compile(r"&(?=#|[A-Za-z0-9]+;)")
_MARKDOWN = re.compile(r"([\\`*_\[\]()!|~])")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 cluster``, ``2 clusters`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def natural_key(value: Any) -> tuple:
    """Sort key that orders numbers as numbers, inside strings too ("scene 2" before "scene 10")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    text = str(value)
    try:
        return (0, float(text), "")
    except ValueError:
        pass
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in _DIGITS.split(text) if p)
    return (1, 0, parts)


def markdown_text(text: str) -> str:
    """Outside text as plain text in a Markdown table cell: control characters (CR, LF, tab...) folded
    to spaces, ``<`` and ``>`` (raw HTML) and an ``&`` that starts an entity escaped as HTML, and the
    Markdown punctuation that makes links, images, emphasis, code or cells backslash-escaped."""
    text = _ENTITY.sub("&amp;", _CONTROLS.sub(" ", text))
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)
