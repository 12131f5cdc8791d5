"""Numbers and text read from what servers send, converted totally: never an exception.

An API answer or a dump line may hold ``"nan"``, ``1e400`` (JSON's infinity), a list where a number
belongs or a number past 64 bits. Each becomes ``None`` here (a missing value) instead of a
``ValueError``/``OverflowError`` in the middle of a run, or a manifest column that cannot be written.
"""

from __future__ import annotations

import math
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def finite_float(value: Any) -> float | None:
    """A finite float from a number or a numeric string; ``None`` for anything else."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        return float(value) if INT64_MIN <= value <= INT64_MAX else None
    if not isinstance(value, float | str) or value == "":
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def finite_int(value: Any) -> int | None:
    """An integer that fits 64 bits from a number or a numeric string (floats truncated); else
    ``None``."""
    if isinstance(value, int):
        number = int(value)
    else:
        real = finite_float(value)
        if real is None:
            return None
        number = int(real)
    return number if INT64_MIN <= number <= INT64_MAX else None


def text(value: Any) -> str | None:
    """A string field: strings as they are, numbers as text, ``None`` for missing or nested values."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, str) else str(value)
