"""The duplicate-cluster view of ``curate review``, and the page itself (HTML with its script inlined).

A cluster is shown keeper first (the member the others' ``dup_of`` names, else the first one still
``ok``), then its members with their hash distance to it: the Hamming distance of their ``phash``
values when both have one, else the distance ``curate dedupe`` wrote in the member's error.
Clusters with mixed labels come first, then the largest.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

from manifests import schema

from .rows import RowStore, cards

_DISTANCE = re.compile(r"distance (\d+)")


def distance(member: pd.Series, keeper: pd.Series) -> int | None:
    """The hash distance of a cluster member to its keeper, when the manifest says it."""
    a, b = member.get(schema.PHASH), keeper.get(schema.PHASH)
    if isinstance(a, str) and isinstance(b, str):
        try:
            return (int(a, 16) ^ int(b, 16)).bit_count()
        except ValueError:
            pass
    error = member.get(schema.ERROR)
    found = _DISTANCE.search(error) if isinstance(error, str) else None
    return int(found.group(1)) if found else None


def clusters(store: RowStore, offset: int, limit: int, mixed_only: bool = False) -> dict[str, Any]:
    """A page of duplicate clusters: ``{"total", "clusters": [{"id", "mixed", "rows": [card...]}]}``."""
    with store.lock:
        frame = store.frame
        rows = frame[frame[schema.DUP_CLUSTER].notna() & frame[schema.SHA256].notna()]
        grouped = rows.groupby(schema.DUP_CLUSTER, sort=False)
        order = pd.DataFrame({"mixed": grouped[schema.LABEL].nunique() > 1, "size": grouped.size()})
        if mixed_only:
            order = order[order["mixed"]]
        order = order.sort_values(["mixed", "size"], ascending=False, kind="stable")
        members_of = grouped.indices
        out = []
        for cid, mixed in order["mixed"].iloc[offset:offset + limit].items():
            members = rows.iloc[members_of[cid]]
            out.append({"id": str(cid), "mixed": bool(mixed), "rows": _members(members, store)})
        return {"total": len(order), "offset": offset, "clusters": out}


def _members(members: pd.DataFrame, store: RowStore) -> list[dict[str, Any]]:
    pointed = set(members[schema.DUP_OF].dropna())
    ok = members[schema.STATUS].astype("string").eq(schema.OK).fillna(False)
    named = members[members[schema.SHA256].isin(pointed) & ok]
    keeper = named.index[0] if len(named) else (members.index[ok][0] if ok.any() else members.index[0])
    ordered = members.loc[[keeper, *members.index.drop(keeper)]]
    out = cards(ordered, store.predictions)
    for card, (_, row) in zip(out, ordered.iterrows(), strict=True):
        card["keeper"] = row.name == keeper
        card["distance"] = None if row.name == keeper else distance(row, members.loc[keeper])
    return out


@cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def page(store: RowStore, token: str, nonce: str, title: str, has_run: bool) -> str:
    """The app's one page: the layout, the style and the script, the settings as JSON."""
    settings = {"token": token, "classes": store.classes(), "mistakes": has_run,
                "filters": store.filter_columns()}
    data = json.dumps(settings).replace("<", "\\u003c")
    return (_asset("review.html")
            .replace("{{title}}", html.escape(title))
            .replace("{{nonce}}", nonce)
            .replace("{{style}}", _asset("review.css"))
            .replace("{{settings}}", data)
            .replace("{{script}}", _asset("review.js")))
