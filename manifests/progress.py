"""The one progress hook every long-running library function takes, so it can drive a bar without
knowing which one.

A :class:`Progress` is a bar: ``total`` once the amount of work is known (and to change what the bar
says), ``advance`` as items finish. ``task`` opens a bar of its own under it (one per video, one per
epoch) and ``done`` closes it; ``note`` prints a line above the bars (an epoch's summary).

:class:`manifests.console.RichProgress` is the CLIs' implementation; :class:`NoProgress` shows nothing.
Implementations must accept calls from worker threads (the frames collector runs videos in parallel).
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Progress hook: a bar that may open bars of its own."""

    def total(self, n: int | None, description: str = "") -> None:
        """Set the amount of work (``None``: unknown) and, when given, what the bar says."""

    def advance(self, n: int = 1) -> None:
        """Count ``n`` finished items."""

    def task(self, description: str, total: int | None = None, transient: bool = False) -> Progress:
        """Open a bar of its own (per video, per epoch); ``transient`` bars vanish when done."""
        ...

    def done(self) -> None:
        """This bar's work is over."""

    def note(self, message: str) -> None:
        """Show one line of text above the bars."""


class NoProgress:
    """A progress hook that shows nothing."""

    def total(self, n: int | None, description: str = "") -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def task(self, description: str, total: int | None = None, transient: bool = False) -> NoProgress:
        return self

    def done(self) -> None:
        pass

    def note(self, message: str) -> None:
        pass


def or_none(progress: Progress | None) -> Progress:
    """``progress``, or a :class:`NoProgress` when there is none."""
    return progress if progress is not None else NoProgress()
