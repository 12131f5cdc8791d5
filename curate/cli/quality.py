"""``curate label-issues`` and ``curate check``: the data-quality commands.

Parsing only; the work is in :mod:`curate.quality.label_issues` and :mod:`curate.quality.check`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from manifests.cliargs import DEFAULT_MANIFEST, JsonOpt, ManifestArg, use_manifest

from .options import Command, DryRunOpt, OutputOpt, columns
from .render import show
from .views import label_issue_tables

LABEL_EPILOG = """Examples:

  curate label-issues                                    # manifest.csv here; trains 5 folds if needed

  curate label-issues data/manifest.csv --folds 3 --arch resnet18 --weights none --epochs 8

  curate label-issues data/manifest.csv --drop 0.05      # flagged rows under quality 0.05: mislabelled

  curate label-issues data/manifest.csv --relabel 0.02 --json
"""


def label_issues_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    predictions: Annotated[Path | None, typer.Option(help="Out-of-fold predictions of train --folds "
                                                     "(default <manifest stem>.oof.csv beside it).")
                           ] = None,
    folds: Annotated[int, typer.Option(min=2, help="K, when the folds must be trained.")] = 5,
    arch: Annotated[str, typer.Option(help="Model per fold (train --arch).")] = "resnet18",
    weights: Annotated[str, typer.Option(help="imagenet, none or a PATH (train --weights).")] = "imagenet",
    epochs: Annotated[int, typer.Option(help="Epochs per fold.")] = 5,
    img_size: Annotated[int | None, typer.Option(help="Input side per fold (default: the weights').")
                        ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    fold_groups: Annotated[str, typer.Option(help="Columns whose values never straddle folds.")] = "",
    train_arg: Annotated[list[str] | None, typer.Option(help="One more train option, verbatim "
                                                        "(repeatable): --train-arg=--lr=0.01")] = None,
    retrain: Annotated[bool, typer.Option("--retrain", help="Train the folds even when the "
                                          "predictions file scores every row.")] = False,
    filter_by: Annotated[str, typer.Option(help="cleanlab find_label_issues filter_by.")
                         ] = "prune_by_noise_rate",
    off_topic: Annotated[float, typer.Option(help="off_topic score under which a row is an off-topic "
                                             "candidate.")] = 0.2,
    relabel: Annotated[float | None, typer.Option(help="Flagged rows under this label quality take "
                                                  "the suggested label (logged).")] = None,
    drop: Annotated[float | None, typer.Option(help="Flagged rows under this label quality get "
                                               "status=mislabelled (logged).")] = None,
    worst: Annotated[int, typer.Option(help="Rows of lowest label quality to list.")] = 20,
    dry_run: DryRunOpt = False, as_json: JsonOpt = False, output: OutputOpt = None,
) -> int:
    """Find mislabelled and off-topic images with cleanlab on out-of-fold probabilities.

    Writes label_quality (0-1), label_issue, suggested_label and off_topic (0-1, low = far from every
    class). The label changes only with --relabel or --drop. The probabilities come from
    `train MANIFEST --folds K` (run for you when its predictions file is missing or stale).
    """
    from manifests import read, update

    from ..quality.label_issues import LabelIssueOptions, ensure_predictions, find_issues, read_features

    options = LabelIssueOptions(
        predictions=predictions, folds=folds, arch=arch, weights=weights, epochs=epochs, img_size=img_size,
        device=device, fold_groups=columns(fold_groups), train_args=tuple(train_arg or ()),
        retrain=retrain, filter_by=filter_by, off_topic=off_topic, relabel=relabel, drop=drop, worst=worst)
    use_manifest(manifest)
    table, path, trained = ensure_predictions(manifest, read(manifest), options)
    with update(manifest, output=output, dry_run=dry_run) as tx:
        tx.frame, report = find_issues(tx.frame, table, options, read_features(path, table))
        report.predictions, report.trained = str(path), trained
        tx.details = {"predictions": str(path), "trained": trained, "folds": folds, "arch": arch,
                      "issues": report.issues, "off_topic": report.off_topic, "relabel": relabel,
                      "drop": drop, "relabelled": report.relabelled, "dropped": report.dropped}
    report.record(tx.changes, dry_run)
    return show(report, as_json, label_issue_tables)


CHECK_EPILOG = """Examples:

  curate check                                  # manifest.csv here; exit 0 when clean

  curate check data/manifest.csv --full --json  # every sha256, not a sample

  curate check data/manifest.csv --max-issue-quality 0.1
"""


def check_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    full: Annotated[bool, typer.Option("--full", help="Verify the sha256 of every file, not a sample."
                                       )] = False,
    sample: Annotated[int, typer.Option(help="Files whose sha256 is verified (without --full).")] = 200,
    group_by: Annotated[str, typer.Option(help="Group columns that must not cross splits (default: "
                                          "the known ones present).")] = "",
    threshold: Annotated[int | None, typer.Option(help="Hamming distance of a near-copy across splits "
                                                  "(default: curate dedupe's for the hash size).")] = None,
    max_issue_quality: Annotated[float, typer.Option(help="A val/test row flagged label_issue with "
                                                     "label_quality under this fails the check.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the sha256 sample.")] = 0,
    as_json: JsonOpt = False,
) -> int:
    """Validate a manifest for CI: schema, files, sha256, group and near-copy leaks, label issues.

    Exit 0 when clean, 1 with the list of problems otherwise. Changes nothing.
    """
    from ..quality.check import CheckOptions, check_manifest

    use_manifest(manifest, quiet=as_json)
    options = CheckOptions(full=full, sample=sample, group_by=columns(group_by), threshold=threshold,
                           max_issue_quality=max_issue_quality, seed=seed)
    return show(check_manifest(manifest, options), as_json, stderr=True)


LABEL_ISSUES = Command("label-issues", label_issues_cmd, LABEL_EPILOG)
CHECK = Command("check", check_cmd, CHECK_EPILOG)
