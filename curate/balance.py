"""``curate balance``: see how rows spread over any columns, cap crowded cells, weight the rest.

A *cell* is one combination of the ``by`` columns (``bossbot x dg``). ``balance`` counts the ok rows
per cell, names the cells under ``min_per_cell``, and then, by ``strategy``:

- ``cap``: in cells over ``max_per_cell`` the rows beyond the cap get ``status=over_cap``, chosen by a
  preference from :data:`PREFERENCES` (best ``score``, highest ``resolution``, ``spread`` over
  groups and time, or seeded ``random``), never by file order;
- ``weight``: the ``weight`` column gets the inverse cell frequency, normalised to mean 1 over the kept
  rows (what a weighted sampler needs);
- ``both``: cap, then weight what is left.

Running it again re-decides the caps: earlier ``over_cap`` rows are candidates again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from manifests import InputError, UsageError, group_columns, schema
from manifests.groups import require_filled

from .contract import StageResult
from .text import plural

log = logging.getLogger(__name__)

MISSING = "(missing)"
STRATEGIES = ("cap", "weight", "both")
DENSE_LIMIT = 400  # name empty combinations too when the full table has at most this many cells
TIME_COLUMNS = (schema.TIME, schema.FRAME, schema.CREATED_UTC)


@dataclass(frozen=True)
class BalanceOptions:
    """What ``balance`` does; see the module docstring."""

    by: tuple[str, ...] = (schema.LABEL,)
    min_per_cell: int = 5
    max_per_cell: int | None = None
    prefer: str = "random"
    seed: int = 0
    strategy: str = "both"

    def __post_init__(self) -> None:
        if not self.by:
            raise UsageError("--by needs at least one column, e.g. --by label,street")
        if self.strategy not in STRATEGIES:
            raise UsageError(f"--strategy is one of {', '.join(STRATEGIES)} (got {self.strategy!r})")
        if self.prefer not in PREFERENCES:
            raise UsageError(f"--prefer is one of {', '.join(PREFERENCES)} (got {self.prefer!r})")
        if self.strategy == "cap" and self.max_per_cell is None:
            raise UsageError("--strategy cap needs --max-per-cell N")
        if self.strategy == "weight" and self.max_per_cell is not None:
            raise UsageError("--max-per-cell caps cells: use --strategy cap or both")
        if self.max_per_cell is not None and self.max_per_cell < 1:
            raise UsageError("--max-per-cell must be at least 1")
        if self.min_per_cell < 0:
            raise UsageError(f"--min-per-cell must be at least 0, not {self.min_per_cell}")


@dataclass
class BalanceReport(StageResult):
    """Counts per cell before and after capping, thin cells, capped rows and the weight range;
    ``plot`` is the heatmap written beside (``curate balance --plot``)."""

    by: tuple[str, ...]
    before: pd.Series
    after: pd.Series
    thin: list[str]
    capped: dict[str, int] = field(default_factory=dict)
    weights: tuple[float, float] | None = None
    minimum: int = 5
    plot: str | None = None

    def data(self) -> dict[str, Any]:
        return {"by": list(self.by), "cells": {cell_name(k): int(v) for k, v in self.before.items()},
                "after_cap": {cell_name(k): int(v) for k, v in self.after.items()},
                "thin": self.thin, "capped": self.capped, "over_cap": sum(self.capped.values()),
                "weight_range": list(self.weights) if self.weights else None, "plot": self.plot}

    def lines(self) -> list[str]:
        out = []
        if self.thin:
            out.append(f"{plural(len(self.thin), 'thin cell')} (< {self.minimum}): "
                       + "; ".join(self.thin[:20]) + (" ..." if len(self.thin) > 20 else ""))
        if self.capped:
            cells = f"{len(self.capped)} cell{'s' if len(self.capped) != 1 else ''}"
            out.append(f"over_cap: {sum(self.capped.values())} rows in {cells} ("
                       + ", ".join(f"{k}: {v}" for k, v in self.capped.items()) + ")")
        if self.weights:
            out.append(f"weight: {self.weights[0]} to {self.weights[1]} (mean 1 over kept rows)")
        if self.plot:
            out.append(f"heatmap: {self.plot}")
        return out + self.dry_run_lines()


def cell_name(key: Any) -> str:
    """``("lawbot", "mml")`` -> ``"lawbot x mml"``."""
    return " x ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def cells_of(frame: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    """The ``by`` columns as strings, missing values spelled ``(missing)``."""
    return pd.DataFrame({c: frame[c].astype("string").fillna(MISSING) for c in by}, index=frame.index)


def cell_names(frame: pd.DataFrame, by: tuple[str, ...]) -> pd.Series:
    """Each row's cell as one string, ``"lawbot x mml"``."""
    parts = cells_of(frame, by)
    first = parts[by[0]]
    return first.str.cat([parts[c] for c in by[1:]], sep=" x ") if len(by) > 1 else first


def cell_counts(frame: pd.DataFrame, by: tuple[str, ...]) -> pd.Series:
    """Rows per cell (a Series indexed by the ``by`` values); empty combinations included when the
    table is small and more than half full."""
    cells = cells_of(frame, by)
    counts = cells.groupby(list(by), sort=True).size()
    if len(by) > 1 and len(counts):
        levels = [sorted(cells[c].unique()) for c in by]
        product = int(np.prod([len(lv) for lv in levels]))
        # Fill in empty combinations when the table is small and mostly full (suits x streets), not
        # when one column nests in another (every scene belongs to one label).
        if product <= DENSE_LIMIT and len(counts) * 2 > product:
            full = pd.MultiIndex.from_product(levels, names=list(by))
            counts = counts.reindex(full, fill_value=0)
    return counts


def thin_cells(counts: pd.Series, minimum: int) -> list[str]:
    """``"lawbot x mml: 3 < 5"`` for every cell under the minimum, thinnest first."""
    low = counts[counts < minimum].sort_values(kind="stable")
    return [f"{cell_name(k)}: {int(v)} < {minimum}" for k, v in low.items()]


def table(counts: pd.Series) -> pd.DataFrame:
    """Counts as a 2-D table: the last ``by`` column across, the others down."""
    if counts.index.nlevels == 1:
        return counts.rename("rows").to_frame()
    return counts.unstack(level=-1, fill_value=0)


# -- preferences: which rows a cap keeps. Each returns sort keys, most significant first; lower keeps.
Preference = Callable[[pd.DataFrame, pd.Series, tuple[str, ...]], list[np.ndarray]]


def tiebreak(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A seeded pseudo-random number per row, from the row's identity (not its position in the file)."""
    ident = frame[schema.SHA256].fillna(frame[schema.PATH]).fillna(frame[schema.ORIGIN]).fillna("")
    key = f"{seed % 10**16:016d}"
    return pd.util.hash_pandas_object(ident.astype(str), index=False, hash_key=key).to_numpy()


def _need(frame: pd.DataFrame, col: str, prefer: str) -> pd.Series:
    if col not in frame.columns or frame[col].notna().sum() == 0:
        raise InputError(f"--prefer {prefer} needs a {col!r} column with values; "
                         "try --prefer resolution, spread or random")
    return frame[col]


def prefer_score(frame: pd.DataFrame, cells: pd.Series, by: tuple[str, ...]) -> list[np.ndarray]:
    score = _need(frame, schema.SCORE, "score").astype("Float64")
    return [(-score).fillna(np.inf).to_numpy(dtype=float)]


def prefer_resolution(frame: pd.DataFrame, cells: pd.Series, by: tuple[str, ...]) -> list[np.ndarray]:
    pixels = (_need(frame, schema.WIDTH, "resolution") * frame[schema.HEIGHT]).astype("Float64")
    return [(-pixels).fillna(np.inf).to_numpy(dtype=float)]


def prefer_random(frame: pd.DataFrame, cells: pd.Series, by: tuple[str, ...]) -> list[np.ndarray]:
    return []


def prefer_spread(frame: pd.DataFrame, cells: pd.Series, by: tuple[str, ...]) -> list[np.ndarray]:
    """Round-robin over groups (scene, post, street...), and within a group evenly spaced in time."""
    candidates = (*group_columns(frame), schema.DUP_CLUSTER)
    group_col = next((c for c in candidates
                      if c not in by and c in frame.columns and frame[c].notna().any()), None)
    time_col = next((c for c in TIME_COLUMNS if c in frame.columns and frame[c].notna().any()), None)
    if group_col is None and time_col is None:
        raise InputError("--prefer spread needs a group column other than the --by columns ("
                         + ", ".join(candidates) + ") or a time column ("
                         + ", ".join(TIME_COLUMNS) + ") with values")
    group = (frame[group_col].astype("string").fillna(MISSING) if group_col
             else pd.Series("", index=frame.index))
    when = (frame[time_col].astype("Float64").fillna(np.inf).to_numpy(dtype=float) if time_col
            else frame["_tiebreak"].to_numpy(dtype=float))
    work = pd.DataFrame({"cell": cells.to_numpy(), "group": group.to_numpy(), "when": when},
                        index=frame.index)
    work = work.sort_values(["cell", "group", "when"], kind="stable")
    pos = work.groupby(["cell", "group"], sort=False).cumcount().to_numpy()
    size = work.groupby(["cell", "group"], sort=False)["when"].transform("size").to_numpy()
    work["spread"] = _bit_reverse(pos, np.ceil(np.log2(np.maximum(size, 1))).astype(int))
    rounds = work.groupby(["cell", "group"], sort=False)["spread"].rank(method="first")
    return [rounds.reindex(frame.index).to_numpy(dtype=float)]


def _bit_reverse(pos: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Position -> its bits reversed: 0, n/2, n/4, 3n/4, ... is the order evenly spread picks take."""
    out = np.zeros_like(pos)
    for b in range(int(bits.max()) if len(bits) else 0):
        out |= ((pos >> b) & 1) << np.maximum(bits - 1 - b, 0) * (b < bits)
    return out


PREFERENCES: dict[str, Preference] = {
    "score": prefer_score, "resolution": prefer_resolution, "spread": prefer_spread,
    "random": prefer_random,
}


def cap(frame: pd.DataFrame, options: BalanceOptions) -> tuple[pd.DataFrame, dict[str, int]]:
    """Mark the rows over ``max_per_cell`` in each cell ``over_cap``; earlier caps are undone first."""
    out = frame.copy()
    again = out[schema.STATUS] == schema.OVER_CAP
    out.loc[again, schema.STATUS] = schema.OK
    out.loc[again, schema.ERROR] = pd.NA
    ok = out[out[schema.STATUS] == schema.OK].copy()
    if not len(ok) or options.max_per_cell is None:
        return out, {}
    cells = cell_names(ok, options.by)
    ok["_tiebreak"] = tiebreak(ok, options.seed).astype(float)
    keys = PREFERENCES[options.prefer](ok, cells, options.by)
    codes, _ = pd.factorize(cells, sort=True)
    order = np.lexsort((ok["_tiebreak"].to_numpy(), *reversed(keys), codes))
    ranked = pd.Series(codes[order]).groupby(codes[order]).cumcount().to_numpy()
    drop = ok.index[order[ranked >= options.max_per_cell]]
    sizes = cells.value_counts()
    dropped_cells = cells[drop]
    out.loc[drop, schema.STATUS] = schema.OVER_CAP
    out.loc[drop, schema.ERROR] = [
        f"cell {c} holds {sizes[c]} rows, over the cap of {options.max_per_cell} "
        f"(kept by --prefer {options.prefer})" for c in dropped_cells]
    capped = dropped_cells.value_counts().sort_index()
    return out, {str(k): int(v) for k, v in capped.items()}


def weights(frame: pd.DataFrame, by: tuple[str, ...]) -> pd.Series:
    """Inverse cell frequency for ok rows, mean 1 over them; NA for the other rows."""
    ok = frame[schema.STATUS] == schema.OK
    cells = cell_names(frame[ok], by)
    size = cells.map(cells.value_counts())
    w = len(cells) / (cells.nunique() * size.astype(float))
    return w.reindex(frame.index).astype("Float64")


def balance(frame: pd.DataFrame, options: BalanceOptions) -> tuple[pd.DataFrame, BalanceReport]:
    """Count, cap and weight as ``options`` say; return the new frame and the report."""
    _check(frame, options)
    candidates = frame[schema.STATUS].isin([schema.OK, schema.OVER_CAP]) if options.strategy != "weight" \
        else frame[schema.STATUS] == schema.OK
    if not candidates.any():
        raise InputError("the manifest has no status=ok rows to balance")
    before = cell_counts(frame[candidates], options.by)
    out, capped = (cap(frame, options) if options.strategy in ("cap", "both") else (frame.copy(), {}))
    ok = out[out[schema.STATUS] == schema.OK]
    if options.strategy in ("weight", "both"):
        out[schema.WEIGHT] = weights(out, options.by)
    else:
        out.loc[out[schema.STATUS] != schema.OK, schema.WEIGHT] = pd.NA
    w = out.loc[ok.index, schema.WEIGHT].dropna()
    report = BalanceReport(by=options.by, before=before, after=cell_counts(ok, options.by),
                           thin=thin_cells(before, options.min_per_cell), capped=capped,
                           weights=(round(float(w.min()), 4), round(float(w.max()), 4))
                           if len(w) and options.strategy != "cap" else None, minimum=options.min_per_cell)
    for line in report.thin:
        log.info("thin cell %s", line)
    return out, report


def _check(frame: pd.DataFrame, options: BalanceOptions) -> None:
    require_filled(frame, "curate balance")
    unknown = [c for c in options.by if c not in frame.columns]
    if unknown:
        raise InputError(f"no column {unknown[0]!r} in the manifest "
                         f"(columns: {', '.join(map(str, frame.columns))})")
