"""``curate split``: a leak-free train/val/test split, stratified by class, whole groups at a time.

Guarantees, for the ``status == ok`` rows of a manifest:

- no value of any ``group_by`` column (a street, a scene; with ``video,creator`` no video and no
  creator) is in two splits: rows sharing a value of any of the columns are one group (the union,
  connected components), rows without any group value are groups of their own;
- rows of one ``dup_cluster`` or one ``dup_group`` (rows linked by a chain of near pairs, so every
  near pair) share a split even when their groups differ (groups and clusters are joined into *items*
  by connected components);
- every ok row gets a split; the same manifest and seed give the same split.

Within those, each class's share of each split is as close to the ratios as the groups allow
(:mod:`curate.partition` does the search). Pinned groups (``--pin val=groups.txt``) and a split that
is already in the manifest (a ``train/`` folder import, an earlier run) are fixed before the search,
unless ``force`` redoes the lot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from manifests import InputError, UsageError, group_columns, schema
from manifests.groups import require_filled

from ..contract import StageResult
from ..text import plural
from .partition import PartitionOptions, partition

log = logging.getLogger(__name__)

MISSING = "(missing)"
ALL = "(all)"
SEP = "\x1f"  # joins the values of a composite group key


@dataclass(frozen=True)
class SplitOptions:
    """What ``assign_splits`` does; ``pins`` maps a split name to the group values it must hold."""

    group_by: tuple[str, ...] = ()
    ratios: tuple[float, ...] = (0.7, 0.15, 0.15)
    stratify: str | None = schema.LABEL
    seed: int = 0
    pins: tuple[tuple[str, tuple[str, ...]], ...] = ()
    force: bool = False
    random: bool = False
    restarts: int = 8

    def __post_init__(self) -> None:
        ratios = self.ratios
        if len(ratios) not in (2, 3) or min(ratios) <= 0 or abs(sum(ratios) - 1.0) > 1e-3:
            raise UsageError(f"--ratios takes two or three positive numbers summing to 1 (got "
                             f"{','.join(map(str, ratios))})")
        if self.group_by and self.random:
            raise UsageError("--random splits rows one by one; it cannot be combined with --group-by")
        names = schema.SPLITS[: len(ratios)]
        for split, _ in self.pins:
            if split not in names:
                raise UsageError(f"--pin {split}=... but --ratios gives only {'/'.join(names)}")
        if self.restarts < 1:
            raise UsageError(f"restarts must be at least 1, not {self.restarts}")


@dataclass
class SplitReport(StageResult):
    """What a split achieved: rows per class per split, the largest deviation, and warnings."""

    splits: tuple[str, ...]
    ratios: tuple[float, ...]
    counts: dict[str, dict[str, int]]
    deviation: float
    worst: tuple[str, str] | None
    groups: int
    items: int
    assigned: int
    kept: int
    pinned: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        return {"splits": list(self.splits), "ratios": list(self.ratios), "counts": self.counts,
                "max_deviation": round(self.deviation, 6),
                "worst": list(self.worst) if self.worst else None, "groups": self.groups,
                "items": self.items, "assigned": self.assigned, "kept": self.kept,
                "pinned": self.pinned, "warnings": self.warnings}

    def lines(self) -> list[str]:
        where = f" ({self.worst[0]} in {self.worst[1]})" if self.worst else ""
        out = [f"largest deviation from the ratios: {self.deviation:.2%}{where}",
               f"{self.assigned} rows assigned, {self.kept} kept from the existing split column"
               + (" (--force to redo them)" if self.kept else "")]
        out += [f"pinned: {plural(n, 'group')} in {split}" for split, n in self.pinned.items()]
        out += [f"warning: {line}" for line in self.warnings]
        return out + self.dry_run_lines()


def parse_ratios(text: str) -> tuple[float, ...]:
    """``"0.7,0.15,0.15"`` -> three ratios (train/val/test); two ratios give train/val."""
    try:
        ratios = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise UsageError(f"--ratios takes numbers like 0.7,0.15,0.15 (got {text!r})") from exc
    if len(ratios) not in (2, 3) or min(ratios) <= 0 or abs(sum(ratios) - 1.0) > 1e-3:
        raise UsageError(f"--ratios takes two or three positive numbers summing to 1 (got {text!r})")
    return ratios


def read_pins(specs: list[str], group_by: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Parse ``val=groups.txt`` options: one group per line (composite values separated by commas)."""
    pins = []
    for spec in specs:
        name, sep, file = spec.partition("=")
        split = schema.SPLIT_ALIASES.get(name.strip().lower())
        if not sep or split is None:
            raise UsageError(f"--pin takes SPLIT=FILE, e.g. val=groups.txt (got {spec!r})")
        path = Path(file)
        if not path.is_file():
            raise InputError(f"--pin file {path} does not exist")
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        values = [ln for ln in lines if ln and not ln.startswith("#")]
        if not values:
            raise InputError(f"--pin file {path} lists no groups")
        width = max(1, len(group_by))
        pins.append((split, tuple(SEP.join(p.strip() for p in v.split(",", width - 1)) if width > 1
                                  else v for v in values)))
    return tuple(pins)


def check_grouping(frame: pd.DataFrame, options: SplitOptions) -> None:
    """Refuse a plain random split of a manifest that has a group column, saying why.

    The group columns are the manifest's own (:func:`manifests.group_columns`): those collectors
    declared, ``--group-by`` recorded, or, for an older manifest, the ones collectors wrote then.
    """
    require_filled(frame, "curate split")
    named = (*group_columns_of(options.group_by), options.stratify)
    missing = [c for c in named if c and c not in frame.columns]
    if missing:
        raise InputError(f"no column {missing[0]!r} in the manifest "
                         f"(columns: {', '.join(map(str, frame.columns))})")
    if options.group_by or options.random:
        return
    ok = frame[frame[schema.STATUS] == schema.OK]
    # dup_cluster is always honoured, so it alone does not make a split leak.
    found = [c for c in group_columns(frame) if c != schema.DUP_CLUSTER and ok[c].notna().any()]
    if found:
        col = found[0]
        n = ok[col].nunique()
        also = f" (or --group-by {','.join(found)})" if len(found) > 1 else ""
        raise UsageError(
            f"the manifest has a {col!r} column ({n} values): a random split would put rows of one "
            f"{col} in both train and val and the validation score would be inflated. Use "
            f"--group-by {col}{also}, or --random to split rows anyway")


def group_columns_of(group_by: tuple[str, ...]) -> tuple[str, ...]:
    """The columns ``group_by`` names; an item ``scene|creator`` names both."""
    return tuple(dict.fromkeys(c.strip() for item in group_by for c in item.split("|") if c.strip()))


def _group_part(ok: pd.DataFrame, item: str) -> pd.Series:
    """One part of a group key: the column's value, or for ``a|b`` the first of them a row has (frames
    grouped by scene and fan art by creator in one split)."""
    names = [c.strip() for c in item.split("|") if c.strip()]
    part = ok[names[0]].astype("string")
    for name in names[1:]:
        part = part.fillna(ok[name].astype("string"))
    return part


def group_parts(ok: pd.DataFrame, group_by: tuple[str, ...]) -> list[pd.Series]:
    """The value of each ``group_by`` item per row (NA where the row has none)."""
    return [_group_part(ok, item) for item in group_by]


def group_keys(ok: pd.DataFrame, group_by: tuple[str, ...]) -> tuple[pd.Series, int]:
    """One key per row: the value of the first group column it has (columns prefixed, so a scene and a
    creator spelled alike stay apart), or the row's own key when it has none. The other columns tie
    keys together in :func:`join_items` (see :func:`group_ties`)."""
    position = pd.Series(np.arange(len(ok)), index=ok.index).astype(str)
    own = "\0row:" + ok[schema.SHA256].fillna(ok[schema.PATH]).astype("string").fillna("\0#" + position)
    own = own.astype(str)  # a row with neither sha256 nor path: its position, never a key shared
    if not group_by:
        return own, len(ok)
    keys = pd.Series(pd.NA, index=ok.index, dtype="string")
    for item, part in zip(group_by, group_parts(ok, group_by), strict=True):
        prefix = "" if len(group_by) == 1 else f"{item}{SEP}"
        keys = keys.fillna(prefix + part)
    absent = keys.isna()
    return keys.fillna(own).astype(str), int(absent.sum())


def group_ties(ok: pd.DataFrame, group_by: tuple[str, ...]) -> list[pd.Series]:
    """With several group columns, each column's values: rows sharing any of them are one group."""
    return group_parts(ok, group_by) if len(group_by) > 1 else []


def join_items(keys: pd.Series, *ties: pd.Series) -> np.ndarray:
    """Item id per row: groups joined by shared values of each ``ties`` series (``dup_cluster``, an
    augmented copy's original), as connected components."""
    g, _ = pd.factorize(keys, sort=True)
    n_groups = int(g.max()) + 1 if len(g) else 0
    rows, cols, size = [g], [g], n_groups
    for tie in ties:
        d, dvals = pd.factorize(tie.astype("string"), sort=True, use_na_sentinel=True)
        has = d >= 0
        rows.append(g[has])
        cols.append(size + d[has])
        size += len(dvals)
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    _, items = np.unique(labels[g], return_inverse=True)
    return items


def links(ok: pd.DataFrame) -> list[pd.Series]:
    """What ties rows to one split beyond their group: the ``dup_cluster``, and for augmented copies
    (``derived_from``) their original's sha256, which the original row shares."""
    out = [ok[schema.DUP_CLUSTER]]
    if schema.DUP_GROUP in ok.columns:  # every near pair, chains included (curate dedupe)
        out.append(ok[schema.DUP_GROUP])
    if schema.DERIVED_FROM in ok.columns:
        out.append(ok[schema.DERIVED_FROM].astype("string").fillna(ok[schema.SHA256].astype("string")))
    return out


def assign_splits(frame: pd.DataFrame, options: SplitOptions) -> tuple[pd.DataFrame, SplitReport]:
    """Write the ``split`` column of the ok rows; return the new frame and what the split achieved."""
    check_grouping(frame, options)
    names = schema.SPLITS[: len(options.ratios)]
    ok_mask = (frame[schema.STATUS] == schema.OK).to_numpy()
    ok = frame[ok_mask]
    if not len(ok):
        raise InputError("the manifest has no status=ok rows to split")
    keys, ungrouped = group_keys(ok, options.group_by)
    ties = group_ties(ok, options.group_by)
    items = join_items(keys, *ties, *links(ok))
    classes = (ok[options.stratify].astype("string").fillna(MISSING) if options.stratify
               else pd.Series(ALL, index=ok.index, dtype="string"))
    class_codes, class_names = pd.factorize(classes, sort=True)
    n_items = int(items.max()) + 1
    counts = np.zeros((n_items, len(class_names)))
    np.add.at(counts, (items, class_codes), 1)
    warnings: list[str] = []
    if ungrouped and options.group_by:
        warnings.append(f"{ungrouped} ok rows have no value in {' or '.join(options.group_by)}: "
                        "each of them is a group of its own")
    existing = _existing(ok, names, options.force)
    fixed, pinned = _fixed(_pin_lookup(keys, items, options.group_by, ok), items, existing, names,
                           options.pins, warnings)
    assign = partition(counts, np.array(options.ratios), fixed,
                       PartitionOptions(seed=options.seed, restarts=options.restarts))
    new_split = pd.Series(np.asarray(names, dtype=object)[assign[items]], index=ok.index)
    kept = existing.notna()
    new_split[kept] = existing[kept]
    out = frame.copy()
    out.loc[ok.index, schema.SPLIT] = new_split.astype("string")
    groups = join_items(keys, *ties)  # the groups alone, before near-duplicates tie them further
    report = _report(classes, new_split, names, options, counts, items, groups, warnings)
    report.kept, report.assigned, report.pinned = int(kept.sum()), int((~kept).sum()), pinned
    return out, report


def _existing(ok: pd.DataFrame, names: tuple[str, ...], force: bool) -> pd.Series:
    """The split each ok row already has (normalised), or NA; all NA under ``force``."""
    if force:
        return pd.Series(pd.NA, index=ok.index, dtype="string")
    current = ok[schema.SPLIT].astype("string").str.strip().str.lower()
    normal = current.map(lambda v: schema.SPLIT_ALIASES.get(v, v) if isinstance(v, str) else v)
    normal = normal.astype("string")
    odd = sorted(set(normal.dropna()) - set(names))
    if odd:
        raise UsageError(f"the manifest's split column holds {odd[0]!r}, which --ratios does not give "
                         f"({'/'.join(names)}); give three ratios or --force to split again")
    return normal


def _pin_lookup(keys: pd.Series, items: np.ndarray, group_by: tuple[str, ...], ok: pd.DataFrame
                ) -> dict[str, int]:
    """Pin value -> item: a group value (with several group columns, a value of any of them, and the
    composite ``a,b`` line of older pin files, which names the item both values are in)."""
    if len(group_by) <= 1:
        return dict(zip(keys.to_numpy(), items, strict=True))
    lookup: dict[str, int] = {}
    parts = group_parts(ok, group_by)
    for part in parts:
        has = part.notna().to_numpy()
        lookup.update(zip(part[has].astype(str).to_numpy(), items[has], strict=True))
    joined = parts[0].fillna("")
    for part in parts[1:]:
        joined = joined + SEP + part.fillna("")
    lookup.update({k: v for k, v in zip(joined.astype(str).to_numpy(), items, strict=True)
                   if k not in lookup})
    return lookup


def _fixed(item_of: dict[str, int], items: np.ndarray, existing: pd.Series, names: tuple[str, ...],
           pins: tuple[tuple[str, tuple[str, ...]], ...], warnings: list[str]
           ) -> tuple[np.ndarray, dict[str, int]]:
    """Items fixed in advance: by pins first, then by an existing split (which wins on conflict)."""
    fixed = np.full(int(items.max()) + 1, -1)
    pinned: dict[str, int] = {}
    unknown: list[str] = []
    for split, values in pins:
        for value in values:
            item = item_of.get(value)
            if item is None:
                unknown.append(value.replace(SEP, ","))
                continue
            s = names.index(split)
            if fixed[item] not in (-1, s):
                raise InputError(f"group {value.replace(SEP, ',')!r} is pinned to {split} but shares rows or "
                                 f"near-duplicates with a group pinned to {names[fixed[item]]}")
            fixed[item] = s
            pinned[split] = pinned.get(split, 0) + 1
    if unknown:
        warnings.append(f"{len(unknown)} pinned groups are not in the manifest: {', '.join(unknown[:5])}")
    has = existing.notna().to_numpy()
    if has.any():
        frame = pd.DataFrame({"item": items[has], "split": existing.to_numpy()[has]})
        per_item = frame.groupby("item")["split"].agg(lambda s: s.value_counts().index[0])
        leaks = frame.groupby("item")["split"].nunique()
        if (leaks > 1).any():
            warnings.append(f"the existing split column puts {int((leaks > 1).sum())} groups in two "
                            "splits (a leak); --force to split again")
        for item, split in per_item.items():
            s = names.index(split)
            if fixed[item] not in (-1, s):
                warnings.append(f"a pinned group is already in {split} (existing split kept; --force)")
            fixed[item] = s
    return fixed, pinned


def _report(classes: pd.Series, split: pd.Series, names: tuple[str, ...], options: SplitOptions,
            counts: np.ndarray, items: np.ndarray, groups: np.ndarray, warnings: list[str]) -> SplitReport:
    table = pd.crosstab(classes, split).reindex(columns=list(names), fill_value=0)
    share = table.div(table.sum(axis=1), axis=0)
    dev = (share - pd.Series(options.ratios, index=list(names))).abs()
    worst = dev.stack().idxmax() if dev.size else None
    groups_per_class = (counts > 0).sum(axis=0)
    for name, n in zip(sorted(set(classes)), groups_per_class, strict=True):
        if n < len(names):
            warnings.append(f"class {name!r} has {n} group{'s' if n != 1 else ''}: too few to appear in "
                            f"all of {', '.join(names)}")
        else:
            absent = [s for s in names if table.loc[name, s] == 0]
            if absent:
                warnings.append(f"class {name!r} has no rows in {', '.join(absent)}")
    for w in warnings:
        log.info(w)
    return SplitReport(
        splits=names, ratios=options.ratios,
        counts={str(c): {s: int(table.loc[c, s]) for s in names} for c in table.index},
        deviation=float(dev.to_numpy().max()) if dev.size else 0.0,
        worst=(str(worst[0]), str(worst[1])) if worst is not None else None,
        groups=int(groups.max()) + 1 if len(groups) else 0, items=int(items.max()) + 1, assigned=0, kept=0,
        warnings=warnings)
