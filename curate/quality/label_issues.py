"""``curate label-issues``: mislabelled and off-topic images from out-of-fold probabilities, by cleanlab.

The probabilities come from ``train --folds K`` (grouped K-fold; see ``train/folds.py``): the contract
is its predictions file, a CSV with ``sha256``, ``label``, ``fold`` and one ``p_<class>`` column per
class. :func:`ensure_predictions` reuses that file when it scores every usable row, and otherwise runs
the trainer's public entry point for the user, as a subprocess (``python -m train run MANIFEST
--folds K ...``, :mod:`curate.trainer`), so curate never imports train.

:func:`find_issues` (frame + options -> new frame + report) feeds the probabilities to cleanlab, the
well-kept library for confident learning: ``cleanlab.filter.find_label_issues`` flags likely wrong
labels (``label_issue``), ``cleanlab.rank.get_label_quality_scores`` gives ``label_quality`` (0-1, low
is suspicious), and ``cleanlab.outlier.OutOfDistribution`` on the probabilities gives ``off_topic``
(0-1, low is far from every class: an image that belongs to none). ``suggested_label`` is the class
the probabilities favour, for flagged rows. ``label`` changes only with ``relabel`` (flagged rows
below that quality take the suggested label) or ``drop`` (they get ``status=mislabelled``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from manifests import InputError, UsageError, schema

from ..contract import StageResult
from ..trainer import run_train, train_argv

log = logging.getLogger(__name__)

PROB_PREFIX = "p_"
MISLABELLED = "mislabelled"  # status of rows dropped by --drop
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")
SUMMARY_COLUMNS = (schema.SOURCE, "engine", "query", schema.SUBREDDIT)
# The folds' accuracy is "near chance" (a warning) below chance + this share of the way to 1.
NEAR_CHANCE = 0.25


@dataclass(frozen=True)
class LabelIssueOptions:
    """How to get the probabilities (``train --folds``) and what to do with the issues found."""

    predictions: Path | None = None  # default: <manifest folder>/<manifest stem>.oof.csv
    folds: int = 5
    arch: str = "resnet18"
    weights: str = "imagenet"
    epochs: int = 5
    img_size: int | None = None
    device: str = "auto"
    fold_groups: tuple[str, ...] = ()
    train_args: tuple[str, ...] = ()  # more options for train, verbatim
    retrain: bool = False
    filter_by: str = "prune_by_noise_rate"
    off_topic: float = 0.2  # off_topic score below this: an off-topic candidate
    relabel: float | None = None
    drop: float | None = None
    worst: int = 20

    def __post_init__(self) -> None:
        if self.filter_by not in FILTERS:
            raise UsageError(f"unknown --filter-by {self.filter_by!r} (choose from {', '.join(FILTERS)})")
        for name in ("relabel", "drop"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 1:
                raise UsageError(f"--{name} takes a label-quality threshold in (0, 1], not {value}")
        if self.relabel is not None and self.drop is not None:
            raise UsageError("--relabel and --drop exclude each other")
        if self.folds < 2:
            raise UsageError(f"--folds must be at least 2, not {self.folds}")
        if self.epochs < 1 or self.worst < 0:
            raise UsageError("--epochs must be at least 1 and --worst at least 0")


@dataclass
class LabelIssueReport(StageResult):
    """What was found: counts, per class and per source/query, the worst rows, what was changed."""

    predictions: str
    trained: bool
    scored: int
    issues: int
    off_topic: int
    relabelled: int = 0
    dropped: int = 0
    unscored: int = 0
    accuracy: float | None = None  # of the folds' predictions (argmax) against the labels
    fold_accuracy: dict[str, float] = field(default_factory=dict)
    chance: float | None = None  # the accuracy of always guessing the most common class
    warnings: list[str] = field(default_factory=list)
    by: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"{row['label_quality']:.3f} {'issue' if row['label_issue'] else '     '} {row['path']} "
               f"({row['label']}" + (f" -> {row['suggested']}" if row["suggested"] else "")
               + f"), off_topic {row['off_topic']:.3f}" for row in self.worst]
        source = "trained now" if self.trained else "reused"
        out.append(f"{self.scored} rows scored ({source}: {self.predictions}): {self.issues} label "
                   f"issues, {self.off_topic} off-topic candidates"
                   + (f", {self.unscored} usable rows not scored" if self.unscored else "")
                   + (f"; {self.relabelled} relabelled" if self.relabelled else "")
                   + (f"; {self.dropped} marked mislabelled" if self.dropped else "") + ".")
        if self.accuracy is not None:
            folds = ", ".join(f"{a:.2f}" for a in self.fold_accuracy.values())
            out.append(f"the folds' accuracy: {self.accuracy:.3f}" + (f" (per fold {folds})" if folds else "")
                       + f"; always guessing the most common class: {self.chance:.3f}")
        return out + [f"warning: {w}" for w in self.warnings] + self.dry_run_lines()


def predictions_path(manifest: Path, options: LabelIssueOptions) -> Path:
    """The predictions file to use: ``options.predictions`` or the ``train --folds`` default."""
    return options.predictions or manifest.resolve().parent / f"{manifest.stem}.oof.csv"


def usable(frame: pd.DataFrame) -> pd.Index:
    """Rows that can be scored: status ok with a label."""
    return frame.index[(frame[schema.STATUS] == schema.OK) & frame[schema.LABEL].notna()]


def covers(table: pd.DataFrame, frame: pd.DataFrame) -> bool:
    """Whether a predictions table scores every usable row of the manifest."""
    return bool(frame.loc[usable(frame), schema.SHA256].isin(table[schema.SHA256]).all())


def train_command(manifest: Path, path: Path, options: LabelIssueOptions) -> list[str]:
    """The ``python -m train run MANIFEST --folds K ...`` command line that writes ``path``.

    The fold runs go to ``.cache/folds/`` in the manifest's folder (never outside the dataset folder);
    ``train_args`` come last, so a ``--out`` there wins.
    """
    runs = manifest.resolve().parent / ".cache" / "folds" / (
        f"{manifest.stem}-{options.arch}-k{options.folds}-{time.strftime('%Y%m%d-%H%M%S')}")
    cmd = train_argv("run", str(manifest), "--folds", str(options.folds), "--arch", options.arch,
                     "--weights", options.weights, "--epochs", str(options.epochs),
                     "--device", options.device, "--predictions", str(path), "--out", str(runs))
    if options.img_size:
        cmd += ["--img-size", str(options.img_size)]
    if options.fold_groups:
        cmd += ["--fold-groups", ",".join(options.fold_groups)]
    return [*cmd, *options.train_args]


def ensure_predictions(manifest: Path, frame: pd.DataFrame, options: LabelIssueOptions
                       ) -> tuple[pd.DataFrame, Path, bool]:
    """The predictions table, its path and whether it was trained now (``train --folds`` as needed)."""
    path = predictions_path(manifest, options)
    if path.is_file() and not options.retrain:
        table = read_predictions(path)
        if covers(table, frame):
            log.info("reusing out-of-fold predictions %s", path)
            return table, path, False
        log.info("%s does not score every usable row: training the folds again", path)
    run_train(train_command(manifest, path, options), "train --folds")
    return read_predictions(path), path, True


def read_predictions(path: Path) -> pd.DataFrame:
    """Read and check a predictions file (sha256 and ``p_<class>`` columns)."""
    try:
        table = pd.read_csv(path, dtype={schema.SHA256: "string", schema.LABEL: "string"})
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read predictions {path}: {exc}") from None
    probs = [c for c in table.columns if c.startswith(PROB_PREFIX)]
    if schema.SHA256 not in table.columns or len(probs) < 2:
        raise InputError(f"{path} is not a predictions file: it needs sha256 and p_<class> columns")
    return table.drop_duplicates(schema.SHA256, keep="last")


def read_features(path: Path, table: pd.DataFrame) -> np.ndarray | None:
    """The ``.features.npy`` beside a predictions file, when it has one row per prediction."""
    side = path.with_suffix(".features.npy")
    if not side.is_file():
        return None
    feats = np.load(side)
    return feats if feats.ndim == 2 and len(feats) == len(table) else None


def off_topic_scores(probs: np.ndarray, labels: np.ndarray, feats: np.ndarray | None,
                     folds: np.ndarray | None) -> np.ndarray:
    """cleanlab OutOfDistribution scores (0-1, low = far from everything): on each fold's features
    (one model's feature space per fold), else on the probabilities."""
    from cleanlab.outlier import OutOfDistribution

    if feats is None or folds is None:
        scores = OutOfDistribution().fit_score(pred_probs=probs, labels=labels, verbose=False)
        return np.asarray(scores, float)
    out = np.ones(len(feats))
    for fold in np.unique(folds):
        idx = np.flatnonzero(folds == fold)
        if len(idx) > 2:
            k = min(10, len(idx) - 1)
            out[idx] = OutOfDistribution({"k": k}).fit_score(features=feats[idx], verbose=False)
    return out


def score(labels: np.ndarray, probs: np.ndarray, filter_by: str) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's issue mask and label-quality scores."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    issues = find_label_issues(labels, probs, filter_by=filter_by)
    quality = get_label_quality_scores(labels, probs)
    return np.asarray(issues, bool), np.asarray(quality, float)


def _aligned(frame: pd.DataFrame, table: pd.DataFrame) -> tuple[pd.Index, np.ndarray, np.ndarray,
                                                                  tuple[str, ...], np.ndarray]:
    """Scored rows, their label indices, probability rows (in class order), the classes, and each
    scored row's position in the table."""
    columns = [c for c in table.columns if c.startswith(PROB_PREFIX)]
    classes = tuple(c[len(PROB_PREFIX):] for c in columns)
    rows = usable(frame)
    labels = frame.loc[rows, schema.LABEL].astype(str)
    rows = rows[labels.isin(classes).to_numpy()
                & frame.loc[rows, schema.SHA256].isin(table[schema.SHA256]).to_numpy()]
    position = pd.Series(np.arange(len(table)), index=table[schema.SHA256].to_numpy())
    pos = position.loc[frame.loc[rows, schema.SHA256].to_numpy()].to_numpy()
    probs = np.clip(table[columns].to_numpy(float)[pos], 1e-9, None)
    probs /= probs.sum(axis=1, keepdims=True)
    index = {c: i for i, c in enumerate(classes)}
    return rows, frame.loc[rows, schema.LABEL].map(index).to_numpy(np.int64), probs, classes, pos


def find_issues(frame: pd.DataFrame, table: pd.DataFrame, options: LabelIssueOptions,
                features: np.ndarray | None = None) -> tuple[pd.DataFrame, LabelIssueReport]:
    """Score a copy of ``frame`` against a predictions table (and its out-of-fold features, row for
    row, when there are any); relabel or drop only when asked."""
    frame = frame.copy()
    rows, labels, probs, classes, pos = _aligned(frame, table)
    if len(np.unique(labels)) < 2:
        raise InputError("fewer than 2 classes among the rows the predictions score")
    issues, quality = score(labels, probs, options.filter_by)
    folds = table["fold"].to_numpy()[pos] if "fold" in table.columns else None
    ood = off_topic_scores(probs, labels, None if features is None else features[pos], folds)
    suggested = np.asarray(classes, dtype=object)[probs.argmax(axis=1)]
    for col, dtype in ((schema.LABEL_QUALITY, "Float64"), (schema.LABEL_ISSUE, "boolean"),
                       (schema.SUGGESTED_LABEL, "string"), (schema.OFF_TOPIC, "Float64")):
        frame[col] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    frame.loc[rows, schema.LABEL_QUALITY] = quality.round(6)
    frame.loc[rows, schema.LABEL_ISSUE] = issues
    frame.loc[rows[issues], schema.SUGGESTED_LABEL] = suggested[issues]
    frame.loc[rows, schema.OFF_TOPIC] = ood.round(6)
    report = LabelIssueReport(predictions="", trained=False, scored=len(rows), issues=int(issues.sum()),
                              off_topic=int((ood < options.off_topic).sum()),
                              unscored=len(usable(frame)) - len(rows))
    _judge_folds(report, labels, probs, folds)
    report.by = summarize(frame, rows, ood < options.off_topic)
    report.worst = worst(frame, rows, options.worst)
    _apply(frame, rows[issues], quality[issues], suggested[issues], options, report)
    return frame, report


def _judge_folds(report: LabelIssueReport, labels: np.ndarray, probs: np.ndarray,
                 folds: np.ndarray | None) -> None:
    """The folds' accuracy beside chance (always the most common class), and a warning when it is
    within :data:`NEAR_CHANCE` of the way from chance to perfect: such probabilities flag noise."""
    right = probs.argmax(axis=1) == labels
    report.accuracy = round(float(right.mean()), 4)
    report.chance = round(float(np.bincount(labels).max() / len(labels)), 4)
    if folds is not None:
        report.fold_accuracy = {str(f): round(float(right[folds == f].mean()), 4) for f in np.unique(folds)}
    if report.accuracy < report.chance + NEAR_CHANCE * (1 - report.chance):
        report.warnings.append(
            f"the folds' accuracy {report.accuracy:.3f} is near chance ({report.chance:.3f}): their "
            f"probabilities say little, so most of the {report.issues} label issues are noise; train "
            "the folds better (more --epochs, pretrained --weights, more data) before trusting them")


def _apply(frame: pd.DataFrame, rows: pd.Index, quality: np.ndarray, suggested: np.ndarray,
           options: LabelIssueOptions, report: LabelIssueReport) -> None:
    """``relabel``: flagged rows under the threshold take the suggested label; ``drop``: mislabelled."""
    if options.relabel is not None:
        pick = rows[quality < options.relabel]
        old = frame.loc[pick, schema.LABEL].astype(str).to_numpy()
        frame.loc[pick, schema.LABEL] = suggested[quality < options.relabel]
        frame.loc[pick, schema.SUGGESTED_LABEL] = old  # the way back
        report.relabelled = len(pick)
    if options.drop is not None:
        pick = rows[quality < options.drop]
        frame.loc[pick, schema.STATUS] = MISLABELLED
        frame.loc[pick, schema.ERROR] = [f"label quality {q:.3f}: looks like {s}"
                                         for q, s in zip(quality[quality < options.drop],
                                                         suggested[quality < options.drop], strict=True)]
        report.dropped = len(pick)


def summarize(frame: pd.DataFrame, rows: pd.Index, off: np.ndarray) -> dict[str, dict[str, dict[str, int]]]:
    """Scored rows, label issues and off-topic candidates per class and per source/engine/query."""
    part = frame.loc[rows]
    table = pd.DataFrame({"issue": part[schema.LABEL_ISSUE].astype(bool).to_numpy(), "off": off},
                         index=rows)
    out = {}
    for col in (schema.LABEL, *SUMMARY_COLUMNS):
        if col not in frame.columns or part[col].isna().all():
            continue
        key = part[col].astype("string").fillna("(missing)")
        grouped = table.groupby(key.to_numpy()).agg(rows=("issue", "size"), issues=("issue", "sum"),
                                                    off_topic=("off", "sum"))
        grouped = grouped.sort_values(["issues", "rows"], ascending=False)
        out[col] = {str(k): {c: int(v) for c, v in r.items()} for k, r in grouped.iterrows()}
    return out


def worst(frame: pd.DataFrame, rows: pd.Index, n: int) -> list[dict[str, Any]]:
    """The ``n`` rows of lowest label quality: path, label, suggestion, quality, off-topic score."""
    part = frame.loc[rows].sort_values(schema.LABEL_QUALITY, kind="stable").head(n)
    argmax = part[schema.SUGGESTED_LABEL].astype("string")
    return [{"path": r[schema.PATH], "label": r[schema.LABEL],
             "suggested": None if pd.isna(s) else str(s), "label_quality": float(r[schema.LABEL_QUALITY]),
             "label_issue": bool(r[schema.LABEL_ISSUE]), "off_topic": float(r[schema.OFF_TOPIC])}
            for (_, r), s in zip(part.iterrows(), argmax, strict=True)]
