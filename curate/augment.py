"""``curate augment``: upsample a scarce source with augmented copies that never leak across splits.

The Ghibli/Disney seed had thousands of movie frames per film and a few hundred fan-art images from
searches; it made six augmented copies of each internet image (grayscale, invert, Poisson noise,
intensity rescale, log and sigmoid adjustments) so the model would not learn "drawing = rare". This
stage does that as data: within each label, the rows of every ``--by`` value (a source, an engine) whose
share of the label is under ``--to-share`` get augmented copies until it is reached (at most
``max_copies`` per image). Each copy is a new image file, verified and written by the dataset's image
store (:mod:`manifests.store`: ``images/<sha[:2]>/<sha>.png``) and a new row that keeps the
original's label, source and group columns and names its original in ``derived_from``; ``curate
split`` keeps every copy in its original's split, so no augmented copy of a training image can score a
validation image.

The sampler alternative needs no new files: ``curate balance --by label,source`` writes weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from manifests import InputError, UsageError, images, lineage, schema
from manifests.store import encode, store_bytes

from .contract import StageResult

log = logging.getLogger(__name__)

Op = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _grayscale(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grey = img @ np.array([0.299, 0.587, 0.114])
    return np.repeat(grey[..., None], 3, axis=2)


def _invert(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 255.0 - img


def _poisson(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    scale = 32.0 / 255.0  # photon count at full brightness: visible grain, content intact
    return rng.poisson(img * scale) / scale


def _rescale(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lo, hi = np.percentile(img, (2, 98))
    return (img - lo) * (255.0 / max(hi - lo, 1.0))


def _log(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 255.0 * np.log1p(img / 255.0) / np.log(2.0)


def _sigmoid(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = img / 255.0
    return 255.0 / (1.0 + np.exp(10.0 * (0.5 - x)))


OPS: dict[str, Op] = {"grayscale": _grayscale, "invert": _invert, "poisson": _poisson,
                      "rescale": _rescale, "log": _log, "sigmoid": _sigmoid}


@dataclass(frozen=True)
class AugmentOptions:
    """``curate augment`` options: which column defines the scarce part, the share to reach, the ops."""

    by: str = schema.SOURCE
    to_share: float = 0.4
    max_copies: int = 6
    ops: tuple[str, ...] = tuple(OPS)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.to_share < 1:
            raise UsageError(f"--to-share must be between 0 and 1, not {self.to_share}")
        if self.max_copies < 1:
            raise UsageError(f"--max-copies must be at least 1, not {self.max_copies}")
        unknown = [op for op in self.ops if op not in OPS]
        if unknown or not self.ops:
            raise UsageError(f"unknown --ops {','.join(unknown) or '(none)'} (choose from {', '.join(OPS)})")


@dataclass
class AugmentReport(StageResult):
    """Copies written per (label, by value), and the shares before and after."""

    copies: dict[str, int] = field(default_factory=dict)
    shares: dict[str, tuple[float, float]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    by: str = schema.SOURCE
    to_share: float = 0.4

    @property
    def total(self) -> int:
        return sum(self.copies.values())

    def data(self) -> dict[str, Any]:
        return {"copies": self.copies, "shares": self.shares, "failed": self.failed}

    def lines(self) -> list[str]:
        out = [] if self.copies else [f"every {self.by} already holds {self.to_share:.0%} of its label: "
                                      "nothing to add"]
        return [*out, f"{self.total} augmented row{'s' if self.total != 1 else ''} added"
                + (" (dry run: nothing written)" if self.dry_run else "")]


def plan(frame: pd.DataFrame, options: AugmentOptions) -> dict[tuple[str, str], int]:
    """Copies needed per (label, value) so each value reaches ``to_share`` of its label's ok rows."""
    original = frame[schema.DERIVED_FROM].isna() if schema.DERIVED_FROM in frame else True
    ok = frame[(frame[schema.STATUS] == schema.OK) & original]
    ok = ok[ok[schema.LABEL].notna() & ok[options.by].notna()]
    need: dict[tuple[str, str], int] = {}
    for (label, value), rows in ok.groupby([schema.LABEL, options.by], sort=True):
        total = int((ok[schema.LABEL] == label).sum())
        n = len(rows)
        if n == total:
            continue  # one value only: nothing to balance against
        want = int(np.ceil((options.to_share * (total - n)) / (1 - options.to_share)))  # n' / (n' + rest)
        extra = min(max(0, want - n), n * min(options.max_copies, len(options.ops)))
        if extra:
            need[(str(label), str(value))] = extra
    return need


def augment(frame: pd.DataFrame, root: Path, options: AugmentOptions,
            write: bool = True) -> tuple[pd.DataFrame, AugmentReport]:
    """Add augmented copies as new rows (files under ``root/images``, unless ``write`` is false: a dry
    run); the input frame is not changed."""
    if options.by not in frame.columns:
        raise InputError(f"the manifest has no {options.by!r} column to augment by")
    if schema.DERIVED_FROM not in frame.columns:
        frame = frame.assign(**{schema.DERIVED_FROM: pd.Series(pd.NA, index=frame.index, dtype="string")})
    rng = np.random.default_rng(options.seed)
    report = AugmentReport(by=options.by, to_share=options.to_share)
    new_rows: list[dict[str, object]] = []
    base = frame[(frame[schema.STATUS] == schema.OK) & frame[schema.DERIVED_FROM].isna()]
    for (label, value), extra in plan(frame, options).items():
        rows = base[(base[schema.LABEL].astype(str) == label) & (base[options.by].astype(str) == value)]
        before = len(rows) / int((base[schema.LABEL].astype(str) == label).sum())
        order = rows.sample(frac=1.0, random_state=int(rng.integers(2**31)))
        made = 0
        for k in range(extra):
            original = order.iloc[k % len(order)]
            op = options.ops[(k // len(order) + k % len(order)) % len(options.ops)]
            row = _copy(original, op, root, rng, report, write)
            if row is not None:
                new_rows.append(row)
                made += 1
        key = f"{label} / {value}"
        report.copies[key] = made
        total = int((base[schema.LABEL].astype(str) == label).sum()) + made
        report.shares[key] = (before, (len(rows) + made) / total)
    if not new_rows:
        return frame, report
    added = pd.DataFrame(new_rows)
    return pd.concat([frame, added], ignore_index=True), report


def _copy(original: pd.Series, op: str, root: Path, rng: np.random.Generator, report: AugmentReport,
          write: bool) -> dict[str, object] | None:
    """One augmented copy of a row's image, stored verified in the image store (unless a dry run)."""
    try:
        pixels = np.asarray(images.decode(root / str(original[schema.PATH]), mode="RGB").image,
                            dtype=np.float64)
    except images.ImageError as exc:
        report.failed.append(f"{original[schema.PATH]}: {exc.error}")
        log.warning("cannot augment %s: %s", original[schema.PATH], exc.error)
        return None
    out = Image.fromarray(np.clip(OPS[op](pixels, rng), 0, 255).astype(np.uint8), "RGB")
    data = encode(out, "PNG").data
    info, rel = store_bytes(data, root, write=write)
    if rel is None:  # the store refused what we encoded: say why rather than add a broken row
        report.failed.append(f"{original[schema.PATH]}: {info.error}")
        return None
    row = {k: v for k, v in original.items() if not pd.isna(v)}
    row.update({schema.SHA256: info.sha256, schema.PATH: rel.as_posix(), schema.FORMAT: "png",
                schema.BYTES: len(data), schema.WIDTH: out.width, schema.HEIGHT: out.height,
                schema.ORIGIN: f"augment:{op}:{original[schema.SHA256]}",
                schema.DERIVED_FROM: original[schema.SHA256], schema.HARVESTED_AT: lineage.now()})
    for stage in (schema.PHASH, schema.DUP_OF, schema.DUP_CLUSTER, schema.DUP_GROUP, schema.WEIGHT):
        row.pop(stage, None)
    return row
