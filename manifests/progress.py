"""The progress hook every long-running library function takes, so it can drive a bar without knowing
which one: ``total`` once the amount of work is known, ``advance`` as items finish.

:class:`manifests.console.RichProgress` is the CLIs' implementation; :class:`NoProgress` shows nothing.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Progress hook: ``total`` once the amount of work is known, ``advance`` as items finish."""

    def total(self, n: int | None, description: str = "") -> None: ...

    def advance(self, n: int = 1) -> None: ...


class NoProgress:
    """A progress hook that shows nothing."""

    def total(self, n: int | None, description: str = "") -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass
