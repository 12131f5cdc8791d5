"""File names built from outside data (post ids, titles, URLs): safe characters, bounded length.

A server or a dump decides what a post id holds; a 300-character id used as a file name makes the
operating system refuse the name (``File name too long``) and used to fail a whole run. ``bounded_name``
keeps word characters and dashes, and replaces the tail of a long name by a hash of the whole, so two
long ids that share a prefix still get different names.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 80  # characters of a name we build, far under every file system's 255-byte limit


def bounded_name(text: str, limit: int = MAX_NAME, fallback: str = "item") -> str:
    """``text`` as a safe file name stem of at most ``limit`` ASCII characters."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", text) or fallback
    if len(safe) <= limit:
        return safe
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{safe[:limit - 17]}-{digest}"
