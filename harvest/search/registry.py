"""The engine registry: every image-search engine by its ``--engine`` name, and the filter check."""

from __future__ import annotations

from manifests import UsageError

from .brave import BraveEngine
from .ddgs import DdgsEngine
from .engine import DATES, LICENSE, LICENSE_TYPES, LICENSES, SAFE, Engine, Filters
from .flickr import FlickrEngine
from .openverse import OpenverseEngine
from .serpapi import SerpApiEngine
from .wikimedia import WikimediaEngine

ENGINES: dict[str, type[Engine]] = {e.name: e for e in (
    OpenverseEngine, WikimediaEngine, FlickrEngine, BraveEngine, SerpApiEngine, DdgsEngine)}
DEFAULT_ENGINE = OpenverseEngine.name
_OPTION = {LICENSE: "--license", DATES: "--after/--before", SAFE: "--safe/--no-safe"}


def engine_class(name: str) -> type[Engine]:
    """The engine called ``name``; an unknown name is a ``UsageError`` listing the known ones."""
    try:
        return ENGINES[name]
    except KeyError:
        raise UsageError(f"--engine {name!r}: use one of {', '.join(ENGINES)}") from None


def check_filters(name: str, filters: Filters) -> None:
    """Refuse filters the engine cannot apply, naming the engines that can."""
    cls = engine_class(name)
    bad = [c for c in filters.licenses if c not in LICENSES and c not in LICENSE_TYPES]
    if bad:
        raise UsageError(f"--license {','.join(bad)}: use codes from {', '.join(LICENSES)} or the kinds "
                         f"{', '.join(LICENSE_TYPES)}")
    if filters.licenses and not filters.allowed():
        raise UsageError(f"--license {','.join(filters.licenses)} allows no licence at all")
    if filters.after and filters.before and filters.before <= filters.after:
        raise UsageError(f"--before {filters.before} must be after --after {filters.after}")
    for kind in sorted(filters.asked() - cls.filters):
        able = [n for n, e in ENGINES.items() if kind in e.filters]
        raise UsageError(f"{_OPTION[kind]}: the {name} engine cannot filter by "
                         f"{'date' if kind == DATES else kind}; engines that can: {', '.join(able)}")


def engines_help() -> str:
    """One line per engine for ``--help``."""
    return "\n\n".join(f"{name}: {cls.about}" for name, cls in ENGINES.items())
