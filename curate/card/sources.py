"""Where a dataset's images came from, per collector: read from the rows and the lineage log.

Each collector's rows carry what it knew (a frame's video, crop and sampling; a post's subreddit and
time; a search result's query, engine and rank); the lineage log carries the command lines, and with
them what was asked for (``--after``, ``--top``, ``--pattern``...). :func:`sources` puts both into one
:class:`Source` per collector, as plain sentences a card prints and a Croissant file quotes.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from manifests import schema

from ..frames import SEARCH_PREFIX
from ..tables import as_text

COLLECTORS = ("folder", "frames", "reddit", "search")
# The Croissant RAI dataCollectionType values (the vocabulary's recommended ones) per collector.
COLLECTION_TYPES = {"folder": ["Others: files the publisher collected in a local folder"],
                    "frames": ["Software Collection: frames sampled from video files"],
                    "reddit": ["Web API", "User-generated content data"],
                    "search": ["Web API"]}


@dataclass
class Source:
    """One collector's part of a dataset: its exported rows, its commands and what they did."""

    collector: str
    rows: int
    commands: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)  # one sentence each
    labels_from: str = ""  # where its labels come from (the annotation protocol)

    @property
    def collection_types(self) -> list[str]:
        return COLLECTION_TYPES.get(self.collector, ["Others"])


def collector_of(source: str) -> str:
    """``search:openverse`` -> ``search``; other values as they are."""
    return "search" if source.startswith(SEARCH_PREFIX) else source


def option(command: str, name: str) -> str | None:
    """The last value of ``--name`` in a recorded command line (``--name V`` or ``--name=V``)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    found = None
    for i, word in enumerate(words):
        if word == name and i + 1 < len(words) and not words[i + 1].startswith("--"):
            found = words[i + 1]
        elif word.startswith(name + "="):
            found = word[len(name) + 1:]
    return found


def commands_of(entries: list[dict[str, Any]], collector: str) -> list[str]:
    """The distinct ``harvest <collector>`` command lines of a lineage log, oldest first."""
    prefix = f"harvest {collector} "
    found = [str(e.get("command", "")) for e in entries if str(e.get("command", "")).startswith(prefix)]
    return list(dict.fromkeys(found))


def first_option(commands: list[str], name: str) -> str | None:
    """The value of option ``name`` in the first of ``commands`` that gives it."""
    return next((value for c in commands if (value := option(c, name))), None)


def labels_from(commands: list[str], otherwise: str) -> str:
    """Where labels came from: a fixed ``--label`` value, else the collector's own rule."""
    fixed = first_option(commands, "--label")
    return f"the value {fixed!r} given with --label" if fixed else otherwise


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def _names(values: pd.Series, most: int = 12) -> str:
    names = sorted(as_text(values.dropna()).unique())
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _folder(rows: pd.DataFrame, commands: list[str]) -> tuple[list[str], str]:
    facts = []
    for command in commands:
        words = shlex.split(command)
        root = words[2] if len(words) > 2 else "?"
        pattern = option(command, "--pattern")
        facts.append(f"folder {root}" + (f", file names matched against {pattern}" if pattern else ""))
    if not commands and schema.ORIGIN in rows:
        origins = as_text(rows[schema.ORIGIN].dropna())
        if len(origins):
            facts.append(f"files under {os.path.commonpath(list(origins)) or '/'}")
    field_ = first_option(commands, "--label-field")
    labels = (f"the file name pattern's field {field_!r}" if field_
              else labels_from(commands, "the name of the folder each file is in"))
    return facts, f"folder: labels from {labels}"


def _frames(rows: pd.DataFrame, commands: list[str]) -> tuple[list[str], str]:
    facts = []
    if schema.VIDEO in rows:
        for video, group in rows.groupby(as_text(rows[schema.VIDEO]), sort=True):
            crop = as_text(group[schema.CROP]).iloc[0] if schema.CROP in group else "none"
            sampling = as_text(group[schema.SAMPLING]).iloc[0] if schema.SAMPLING in group else "?"
            scenes = group[schema.SCENE].nunique() if schema.SCENE in group else 0
            facts.append(f"video {os.path.basename(str(video))}: {len(group)} frames exported from "
                         f"{scenes} scenes, sampled {sampling}, crop {crop} (W:H:X:Y)")
    return facts, "frames: labels from " + labels_from(commands, "each video's file name")


def _reddit(rows: pd.DataFrame, commands: list[str]) -> tuple[list[str], str]:
    facts = []
    if schema.SUBREDDIT in rows:
        for sub, group in rows.groupby(as_text(rows[schema.SUBREDDIT]), sort=True):
            created = pd.to_numeric(group.get(schema.CREATED_UTC), errors="coerce").dropna()
            window = f", posted {_day(created.min())} to {_day(created.max())}" if len(created) else ""
            facts.append(f"r/{sub}: {len(group)} images from {group[schema.POST_ID].nunique()} posts"
                         f"{window}" if schema.POST_ID in group else f"r/{sub}: {len(group)} images{window}")
    for command in commands:
        asked = [f"{name} {option(command, '--' + name)}" for name in ("after", "before", "top", "sort",
                                                                        "time", "limit")
                 if option(command, "--" + name)]
        if asked:
            facts.append("asked for " + ", ".join(asked))
    return facts, f"reddit: labels from {labels_from(commands, 'the subreddit each post is in')}"


def _search(rows: pd.DataFrame, commands: list[str]) -> tuple[list[str], str]:
    facts = []
    if schema.QUERY in rows:
        engine = as_text(rows[schema.ENGINE]) if schema.ENGINE in rows else pd.Series("?", rows.index)
        keys = pd.DataFrame({"query": as_text(rows[schema.QUERY]), "engine": engine})
        for (query, eng), group in rows.groupby([keys["query"], keys["engine"]], sort=True):
            rank = pd.to_numeric(group.get(schema.RESULT_RANK), errors="coerce").dropna()
            depth = f", results ranked 1 to {int(rank.max())} taken" if len(rank) else ""
            facts.append(f"query {query!r} on {eng}: {len(group)} images{depth}")
    for command in commands:
        asked = [f"{name} {option(command, '--' + name)}" for name in ("limit", "license", "after", "before")
                 if option(command, "--" + name)]
        if asked:
            facts.append("asked for " + ", ".join(asked))
    labels = sorted(as_text(rows[schema.LABEL].dropna()).unique())
    return facts, f"search: labels given with --label for each set of queries ({', '.join(labels)})"


READERS = {"folder": _folder, "frames": _frames, "reddit": _reddit, "search": _search}


def sources(rows: pd.DataFrame, entries: list[dict[str, Any]]) -> list[Source]:
    """One :class:`Source` per collector of ``rows`` (the exported rows), largest first."""
    kinds = as_text(rows[schema.SOURCE]).map(collector_of)
    out = []
    for kind, group in rows.groupby(kinds, sort=True):
        commands = commands_of(entries, str(kind))
        reader = READERS.get(str(kind))
        if reader is None:
            facts, labels = [f"{len(group)} rows with source {kind}"], f"{kind}: labels as recorded"
        else:
            facts, labels = reader(group, commands)
        out.append(Source(str(kind), len(group), commands, facts, labels))
    return sorted(out, key=lambda s: (-s.rows, s.collector))
