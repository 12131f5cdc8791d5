"""``curate check``: validate a manifest for CI, before it reaches a score. Reads; never writes.

:func:`check_manifest` runs these checks and returns every problem found (each a check name and a
one-line message), so CI can fail with the whole list at once:

- ``schema``: the manifest reads with the schema's dtypes; sha256 values are 64 hex digits and unique;
  every row has a status; ok rows have a path and a label; splits are train/val/test;
- ``paths``: the file of every ok row exists;
- ``sha256``: a seeded sample (or every file, ``full``) of ok rows hashes to its recorded sha256;
- ``store``: every file in the image store (``images/<2 hex>/``, where harvest and curate augment put
  files) is named by a row (a killed ``curate augment`` can leave files no row names);
- ``groups``: no value of a group column (street, scene, video, post_id, dup_cluster, ... or the ones
  named) is in two splits;
- ``near_copies``: no two ok rows in different splits have stored perceptual hashes within the
  threshold (``curate dedupe``'s default for the hash size), found with :mod:`curate.dedupe.search`;
- ``label_issues``: no val/test row flagged ``label_issue`` with ``label_quality`` under a threshold.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import manifests
from manifests import ExitStatus, ManifestError, UsageError, schema
from manifests.groups import unfilled
from manifests.store import STORE_DIR

from ..contract import StageResult
from ..dedupe import clusters, hashing, search

HASH_COLUMNS = (schema.PHASH, schema.DHASH, schema.AHASH, schema.WHASH)
SHOWN = 5  # examples named in one problem line
LISTED = 200  # problems printed (--json lists all)
_SHA = re.compile(r"^[0-9a-f]{64}$")
_BUCKET = re.compile(r"[0-9a-f]{2}")


@dataclass(frozen=True)
class CheckOptions:
    """What ``curate check`` verifies and how strictly."""

    full: bool = False
    sample: int = 200
    group_by: tuple[str, ...] = ()
    threshold: int | None = None
    max_issue_quality: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sample < 0:
            raise UsageError(f"--sample must be at least 0, not {self.sample}")
        if self.threshold is not None and self.threshold < 0:
            raise UsageError(f"--threshold must be at least 0, not {self.threshold}")
        if not 0 <= self.max_issue_quality <= 1:
            raise UsageError(f"--max-issue-quality takes a label quality in [0, 1], not "
                             f"{self.max_issue_quality}")


@dataclass
class CheckResult(StageResult):
    """The checks run and the problems found (empty: the manifest is clean); fails when there are any."""

    checks: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    manifest: str = ""

    def add(self, check: str, message: str, **extra: Any) -> None:
        self.problems.append({"check": check, "message": message, **extra})

    def data(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "clean": not self.problems, "checks": self.checks,
                "problems": self.problems}

    def lines(self) -> list[str]:
        out = [f"{p['check']}: {p['message']}" for p in self.problems[:LISTED]]
        if len(self.problems) > LISTED:
            out.append(f"... and {len(self.problems) - LISTED} more (--json lists all)")
        return [*out, f"{len(self.problems)} problems in {len(self.checks)} checks "
                      f"({', '.join(self.checks)})."]

    def exit_status(self) -> ExitStatus:
        return ExitStatus.ERROR if self.problems else ExitStatus.OK


def _names(values: pd.Series) -> str:
    shown = [str(v) for v in values.head(SHOWN)]
    return ", ".join(shown) + (f" and {len(values) - SHOWN} more" if len(values) > SHOWN else "")


def check_schema(frame: pd.DataFrame, result: CheckResult) -> None:
    sha = frame[schema.SHA256].astype("string")
    bad = sha[~sha.fillna("").str.fullmatch(_SHA)]
    if len(bad):
        result.add("schema", f"{len(bad)} rows without a valid sha256 (rows {_names(bad.index.to_series())})")
    dup = sha[sha.duplicated(keep=False) & sha.notna()]
    if len(dup):
        result.add("schema", f"{dup.nunique()} sha256 values on more than one row: "
                             f"{_names(dup.drop_duplicates())}")
    if frame[schema.STATUS].isna().any():
        result.add("schema", f"{int(frame[schema.STATUS].isna().sum())} rows without a status")
    ok = frame[frame[schema.STATUS] == schema.OK]
    for col in (schema.PATH, schema.LABEL):
        if ok[col].isna().any():
            result.add("schema", f"{int(ok[col].isna().sum())} ok rows without a {col}")
    split = frame[schema.SPLIT].dropna()
    odd = split[~split.isin(schema.SPLITS)]
    if len(odd):
        result.add("schema", f"{len(odd)} rows with a split other than {'/'.join(schema.SPLITS)}: "
                             f"{_names(odd.drop_duplicates())}")


def check_files(frame: pd.DataFrame, root: Path, options: CheckOptions, result: CheckResult) -> None:
    ok = frame[(frame[schema.STATUS] == schema.OK) & frame[schema.PATH].notna()]
    exists = ok[schema.PATH].map(lambda p: (root / p).is_file())
    if (~exists).any():
        missing = ok.loc[~exists, schema.PATH]
        result.add("paths", f"{len(missing)} ok rows point at missing files: {_names(missing)}",
                   rows=missing.tolist())
    present = ok[exists.to_numpy()]
    if not options.full and len(present) > options.sample:
        present = present.sample(options.sample, random_state=options.seed)
    changed = [p for p, sha in zip(present[schema.PATH], present[schema.SHA256], strict=True)
               if hashlib.sha256((root / p).read_bytes()).hexdigest() != sha]
    if changed:
        result.add("sha256", f"{len(changed)} of {len(present)} files checked do not match their sha256 "
                             f"(changed since harvest): {_names(pd.Series(changed))}", rows=changed)


def unreferenced(frame: pd.DataFrame, root: Path) -> list[str]:
    """Files in the image store (``images/<2 hex digits>/*`` under ``root``) that no row's path names,
    as paths relative to ``root``, sorted."""
    store = root / STORE_DIR
    if not store.is_dir():
        return []
    named = {os.path.normpath(root / p) for p in frame[schema.PATH].dropna().astype(str)}
    found = []
    for sub in sorted(store.iterdir()):
        if not (_BUCKET.fullmatch(sub.name) and sub.is_dir() and not sub.is_symlink()):
            continue
        found += [f"{STORE_DIR}/{sub.name}/{f.name}" for f in sorted(sub.iterdir())
                  if f.is_file() and os.path.normpath(f) not in named]
    return found


def check_store(frame: pd.DataFrame, root: Path, result: CheckResult) -> None:
    stray = unreferenced(frame, root)
    if stray:
        result.add("store", f"{len(stray)} files in the image store that no row names (left by a killed "
                            f"run; safe to delete): {_names(pd.Series(stray))}", files=stray)


def check_groups(frame: pd.DataFrame, columns: tuple[str, ...], result: CheckResult) -> None:
    part = frame[(frame[schema.STATUS] == schema.OK) & frame[schema.SPLIT].notna()]
    for col in columns:
        if col not in part.columns:
            continue
        spans = part.dropna(subset=[col]).groupby(col)[schema.SPLIT].agg(lambda s: sorted(set(s)))
        crossing = spans[spans.map(len) > 1]
        if len(crossing):
            shown = pd.Series([f"{k} ({'/'.join(v)})" for k, v in crossing.items()])
            result.add("groups", f"{len(crossing)} {col} values in more than one split: {_names(shown)}",
                       column=col, values=[str(k) for k in crossing.index])


def check_near_copies(frame: pd.DataFrame, threshold: int | None, result: CheckResult) -> None:
    part = frame[(frame[schema.STATUS] == schema.OK) & frame[schema.SPLIT].notna()]
    col = next((c for c in HASH_COLUMNS if c in part.columns and part[c].notna().any()), None)
    if col is None:
        return
    hexes = part[col].dropna().astype(str)
    length = int(hexes.str.len().mode().iloc[0])
    hexes = hexes[hexes.str.len() == length]
    if len(hexes) < 2:
        return
    bits = length * 4
    limit = clusters.default_threshold(bits) if threshold is None else threshold
    i, j = search.near_pairs(hashing.hex_to_bits(hexes.tolist(), length), limit)
    split = part.loc[hexes.index, schema.SPLIT].to_numpy(dtype=object)
    across = split[i] != split[j]
    if across.any():
        paths = part.loc[hexes.index, schema.PATH].to_numpy(dtype=object)
        pairs = [f"{paths[a]} ({split[a]}) ~ {paths[b]} ({split[b]})" for a, b in zip(i[across], j[across],
                                                                                     strict=True)]
        result.add("near_copies", f"{len(pairs)} near-duplicate pairs ({col} distance <= {limit}) across "
                                  f"splits: {_names(pd.Series(pairs))}", pairs=pairs)


def check_label_issues(frame: pd.DataFrame, below: float, result: CheckResult) -> None:
    if schema.LABEL_ISSUE not in frame.columns:
        return
    held = frame[frame[schema.SPLIT].isin(("val", "test")) & (frame[schema.STATUS] == schema.OK)]
    bad = held[held[schema.LABEL_ISSUE].fillna(False).astype(bool)
               & (held[schema.LABEL_QUALITY].astype("Float64") < below).fillna(False)]
    if len(bad):
        result.add("label_issues", f"{len(bad)} val/test rows flagged as label issues with quality under "
                                   f"{below}: {_names(bad[schema.PATH])}", rows=bad[schema.PATH].tolist())


def check_manifest(manifest: Path, options: CheckOptions) -> CheckResult:
    """Run every check on ``manifest``; see the module docstring."""
    result = CheckResult(checks=["schema"], manifest=str(manifest))
    try:
        frame = manifests.read(manifest)
    except ManifestError as exc:
        result.add("schema", str(exc))
        return result
    root = manifest.resolve().parent
    check_schema(frame, result)
    result.checks += ["paths", "sha256"]
    check_files(frame, root, options, result)
    result.checks.append("store")
    check_store(frame, root, result)
    groups = options.group_by or (*manifests.group_columns(frame), schema.DUP_CLUSTER, schema.DUP_GROUP)
    result.checks.append("groups")
    for col in unfilled(frame):
        result.add("groups", f"{col!r} is declared a group column but no row holds a value: the split "
                             f"cannot keep its groups apart (re-import with the --pattern that fills it)",
                   column=col)
    check_groups(frame, groups, result)
    result.checks.append("near_copies")
    check_near_copies(frame, options.threshold, result)
    result.checks.append("label_issues")
    check_label_issues(frame, options.max_issue_quality, result)
    return result


def summary_counts(result: CheckResult) -> dict[str, int]:
    """Problems per check (zero for clean checks)."""
    counts = dict.fromkeys(result.checks, 0)
    for problem in result.problems:
        counts[problem["check"]] = counts.get(problem["check"], 0) + 1
    return counts

