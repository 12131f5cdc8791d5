"""``train``: fine-tune a torchvision model from a curated manifest, predict and evaluate with it.

``train manifest.csv [options]`` is short for ``train run manifest.csv [options]``. The CLI parses,
builds :class:`~train.runner.TrainOptions`, calls the library and prints; the work lives in
:mod:`train.runner`, :mod:`train.loop` and :mod:`train.predict`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from manifests import UsageError, schema
from manifests.cliargs import (
    DEFAULT_MANIFEST,
    EPILOG,
    DebugOpt,
    JsonOpt,
    ManifestArg,
    VerboseOpt,
    VersionOpt,
    use_manifest,
)
from manifests.console import RichProgress, err_console, print_json, run_app, setup_logging

from .archs import ARCHS, check_name

if TYPE_CHECKING:
    from rich.console import Console

    from .runner import TrainOptions

ARCH_NAMES = tuple(ARCHS)  # train.archs imports no PyTorch: --help stays instant

COMMANDS = ("run", "predict", "eval", "export", "embed")

app = typer.Typer(
    name="train", no_args_is_help=True, rich_markup_mode="rich",
    help="Fine-tune a torchvision model from a manifest's splits; predict and evaluate with it.\n\n"
         "[bold]train manifest.csv ...[/] is short for [bold]train run manifest.csv ...[/]",
    epilog=EPILOG)

DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]


@app.callback()
def _main(verbose: VerboseOpt = 0, debug: DebugOpt = False, version: VersionOpt = False) -> None:
    setup_logging(verbose)
    if _rank() > 0:  # under torchrun only rank 0 reports
        logging.disable(logging.WARNING)


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _num(value: str, name: str, kind: type, words: tuple[str, ...] = ("auto",)) -> Any:
    if value in words:
        return None
    try:
        return kind(value)
    except ValueError:
        raise UsageError(f"--{name} takes {' or '.join(words)} or a number, not {value!r}") from None


def _from_config(ctx: typer.Context, config: Path, opts: Any, manifest: Path) -> tuple[Path, Any]:
    """Options recorded in a run's config.json, overridden by the options given on the command line."""
    from dataclasses import fields, replace

    from .runner import options_from_config

    def given_here(name: str) -> bool:  # typer carries its own click: compare the source by name
        return getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"

    recorded_manifest, recorded = options_from_config(config)
    params = {f.name: f.name for f in fields(opts)} | {"compile": "compile_"}
    given = {name: getattr(opts, name) for name, param in params.items() if given_here(param)}
    if given_here("lr"):
        given.update(lr=opts.lr, lr_find=opts.lr_find)
    return manifest if given_here("manifest") else recorded_manifest, replace(recorded, **given)


@app.command("run", epilog="Examples:\n\n"
             "  train data/manifest.csv --arch resnet50 --epochs 10\n\n"
             "  train run data/manifest.csv --arch resnet18 --weights none --epochs 3 --img-size 64 "
             "--out runs/small\n\n"
             "  train data/manifest.csv --binary --balanced --augment light --out runs/doom\n\n"
             "  train data/manifest.csv --out runs/doom --resume   (after Ctrl-C)\n\n"
             "  train data/manifest.csv --lr find --log tensorboard   (range test; TensorBoard curves)\n\n"
             "  train data/manifest.csv --features-only --epochs 30   (head on cached backbone features)\n\n"
             "  train --config runs/doom/config.json --out runs/doom-again   (repeat a run)\n\n"
             "  torchrun --nproc_per_node 4 -m train data/manifest.csv --out runs/ddp   (DDP)")
def run_cmd(
    ctx: typer.Context,
    manifest: ManifestArg = DEFAULT_MANIFEST,
    arch: Annotated[str, typer.Option(help=f"Model: {', '.join(ARCH_NAMES)}, or timm/<name> (any timm "
                                      "model, timm extra).")] = "resnet50",
    weights: Annotated[str, typer.Option(help="imagenet (torchvision's recommended weights), none, or a "
                                         "PATH to a state dict / model.pt.")] = "imagenet",
    epochs: Annotated[int, typer.Option(help="Epochs in total, frozen ones included.")] = 10,
    freeze_epochs: Annotated[int, typer.Option(help="Of those, epochs training only the head first "
                                               "(none with --weights none).")] = 1,
    lr: Annotated[str, typer.Option(help="Max learning rate of the head; auto (2e-3, 1e-2 with "
                                    "--features-only) or find (LR range test, lr_find.png).")] = "auto",
    batch_size: Annotated[str, typer.Option(help="auto (largest that fits on the GPU) or N.")] = "auto",
    img_size: Annotated[str, typer.Option(help="Input side in pixels; auto = the weights' (224).")] = "auto",
    binary: Annotated[bool, typer.Option("--binary", help="Two classes, one logit, BCEWithLogits.")] = False,
    balanced: Annotated[bool, typer.Option("--balanced", help="Sample by the weight column (curate "
                                           "balance), else by inverse class frequency.")] = False,
    augment: Annotated[str, typer.Option(help="none, light (crops, flips) or strong (+ colour jitter).")]
    = "none",
    label_smoothing: Annotated[float, typer.Option(help="Cross-entropy label smoothing.")] = 0.0,
    amp: Annotated[str, typer.Option(help="auto (bf16 where supported on CUDA), bf16, fp16 or off.")]
    = "auto",
    device: DeviceOpt = "auto",
    workers: Annotated[int | None, typer.Option(help="Data loader workers (default: cores, max 8).")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/<dataset>-<arch>-<time>).")]
    = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its "
                                         "checkpoint.")] = False,
    early_stop: Annotated[int, typer.Option(help="Stop after N epochs without a better val loss "
                                            "(0: never).")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    cache_size: Annotated[str, typer.Option(help="Side of the decoded squares cached on disk: auto "
                                            "(= img size) or N; 0 turns the cache off.")] = "auto",
    cache_dir: Annotated[Path | None, typer.Option(help="Decode cache folder (default: .cache/train "
                                                   "beside the manifest).")] = None,
    folds: Annotated[int | None, typer.Option(help="Train K grouped folds instead and write out-of-fold "
                                              "probabilities (for curate label-issues).")] = None,
    fold_groups: Annotated[str, typer.Option(help="With --folds: comma-separated columns whose values "
                                             "never straddle folds (default: the group columns "
                                             "present: street, scene, video, post_id, dup_cluster...).")
                           ] = "",
    predictions: Annotated[Path | None, typer.Option(help="With --folds: the predictions file (default "
                                                     "<manifest stem>.oof.csv beside the manifest).")
                           ] = None,
    log: Annotated[str, typer.Option(help="csv (history.csv) or tensorboard (also event files in "
                                     "RUN/tensorboard).")] = "csv",
    features_only: Annotated[bool, typer.Option("--features-only", help="Cache backbone features once, "
                                                "train only the head on them.")] = False,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the model (CUDA graphs on "
                                           "CUDA); slower start, faster steps.")] = False,
    gpu_decode: Annotated[bool, typer.Option(help="On CUDA, decode the train JPEGs on the GPU for the "
                                             "first epoch.")] = True,
    config: Annotated[Path | None, typer.Option(help="Repeat the run this config.json describes; options "
                                                "given here override it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune a torchvision model on the manifest's train split, validating on val.

    With --folds K: K models, each scoring the rows it never saw (whole groups per fold), and one
    predictions file: sha256, label, fold, p_<class>... (no split column needed).

    Writes model.pt, config.json, history.csv, curves.png, metrics.json (with accuracy per street,
    scene, source... to expose leaks), confusion.png, predictions.csv and review.html to the run folder.
    """
    check_name(arch)  # a misspelt --arch fails now, not after seconds of loading PyTorch
    if not as_json and _rank() == 0:  # said before PyTorch loads: the first seconds are never silent
        err_console.print("train: loading PyTorch (a few seconds), then the data and the model...",
                          highlight=False)
    from .runner import TrainOptions, train

    opts = TrainOptions(
        arch=arch, weights=weights, epochs=epochs, freeze_epochs=freeze_epochs,
        lr=_num(lr, "lr", float, ("auto", "find")), lr_find=lr == "find",
        batch_size=_num(batch_size, "batch-size", int), img_size=_num(img_size, "img-size", int),
        binary=binary, balanced=balanced, augment=augment, label_smoothing=label_smoothing, amp=amp,
        device=device, workers=workers, out=out, resume=resume, early_stop=early_stop, seed=seed,
        cache_size=_num(cache_size, "cache-size", int), cache_dir=cache_dir, log=log,
        features_only=features_only, compile=compile_, gpu_decode=gpu_decode)
    if config is not None:
        manifest, opts = _from_config(ctx, config, opts, manifest)
    use_manifest(manifest, quiet=_rank() > 0)
    if folds is not None:
        _run_folds(manifest, opts, folds, fold_groups, predictions, as_json)
        return
    with RichProgress(enabled=not as_json and _rank() == 0, transient=True) as progress:
        result = train(manifest, opts, progress)
    if as_json:
        print_json({"out": str(result.out), "metrics": result.metrics, "history": result.history})
        return
    primary = result.metrics.get("primary")
    if primary is None:  # a non-zero rank under torchrun
        return
    m = result.metrics[primary]
    from rich.console import Console

    console = Console()
    skipped = ", ".join(f"{n} {why}" for why, n in result.skipped.items())
    console.print(f"{primary}: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} on {m['n']} "
                  f"images (best epoch {result.metrics['best_epoch']})"
                  + (f"; skipped {skipped}" if skipped else ""), highlight=False)
    _print_groups(console, m["groups"])
    console.print(f"run folder: {result.out}\nreview page: {result.out / 'review.html'}", highlight=False)


def _run_folds(manifest: Path, opts: TrainOptions, k: int, groups: str, predictions: Path | None,
               as_json: bool) -> None:
    from .folds import out_of_fold

    columns = tuple(c.strip() for c in groups.split(",") if c.strip()) or None
    with RichProgress(enabled=not as_json, transient=True) as progress:
        path = out_of_fold(manifest, opts, k, columns, predictions, progress)
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    if as_json:
        print_json({"predictions": str(path), **meta})
        return
    err_console.print(f"{k} folds of {manifest} grouped by {', '.join(meta['groups']) or 'row'}; fold "
                      f"runs in {meta['runs']}\nout-of-fold predictions: {path}", highlight=False)


def _print_groups(console: Console, groups: dict[str, dict[str, dict[str, float]]]) -> None:
    for col, values in groups.items():
        if len(values) > 20:
            console.print(f"accuracy by {col}: {len(values)} values (see metrics.json)", highlight=False)
            continue
        from rich.table import Table

        table = Table(title=f"accuracy by {col}")
        table.add_column(col)
        table.add_column("accuracy", justify="right")
        table.add_column("n", justify="right")
        for key, v in values.items():
            table.add_row(key, f"{v['accuracy']:.3f}", str(v["n"]))
        console.print(table)


@app.command("predict", epilog="Examples:\n\n  train predict runs/doom/model.pt meme.jpg\n\n"
             "  train predict runs/streets/model.pt screenshots/ --json > predictions.json")
def predict_cmd(
    model: Annotated[Path, typer.Argument(help="model.pt written by train run.")],
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders.")],
    device: DeviceOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Predict the class of image files (folders are searched recursively), with the run's batch size
    and autocast."""
    from .metrics import CONFIDENCE, PREDICTION
    from .predict import predict_paths

    frame = predict_paths(model, inputs, device)
    if as_json:
        print_json(json.loads(frame.to_json(orient="records")))
        return
    for _, row in frame.iterrows():
        if isinstance(row.get(schema.ERROR), str):
            sys.stdout.write(f"{row[schema.PATH]}\terror: {row[schema.ERROR]}\n")
        else:
            sys.stdout.write(f"{row[schema.PATH]}\t{row[PREDICTION]}\t{row[CONFIDENCE]:.3f}\n")


@app.command("eval", epilog="Example:\n\n  train eval runs/streets/model.pt data/manifest.csv --split test")
def eval_cmd(
    model: Annotated[Path, typer.Argument(help="model.pt written by train run.")],
    manifest: ManifestArg = DEFAULT_MANIFEST,
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    device: DeviceOpt = "auto",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the predictions "
                                                "CSV here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a saved model on one split of a manifest: accuracy, macro-F1, per class and per group."""
    from rich.console import Console
    from rich.table import Table

    from .predict import evaluate_manifest

    result, predictions = evaluate_manifest(model, use_manifest(manifest), split, device)
    if output:
        predictions.to_csv(output, index=False)
    if as_json:
        print_json(result)
        return
    console = Console()
    console.print(f"{split}: accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f} on "
                  f"{result['n']} images", highlight=False)
    table = Table(title="per class")
    for col in ("class", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, v in result["per_class"].items():
        table.add_row(name, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}",
                      str(v["support"]))
    console.print(table)
    _print_groups(console, result["groups"])


@app.command("export", epilog="Examples:\n\n  train export runs/doom --format onnx\n\n"
             "  train export runs/doom/model.pt --format torchscript -o serve/doom.pt")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder (runs/NAME) or its model.pt.")],
    fmt: Annotated[str, typer.Option("--format", help="onnx or torchscript.")] = "onnx",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write (default: "
                                                "model.onnx / model.torchscript.pt beside model.pt).")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a trained model for serving, load it back and check its outputs match PyTorch's.

    Input: a float batch (N, 3, S, S) normalised with the run's mean/std; output: logits. Class names
    and preprocessing are stored in the file's metadata.
    """
    from rich.console import Console

    from .export import export

    done = export(run, fmt, output)
    if as_json:
        print_json({"path": str(done.path), "format": done.format, "max_abs_diff": done.max_abs_diff})
        return
    Console().print(f"{done.format}: {done.path} (outputs match PyTorch within {done.max_abs_diff:.1e})",
                    highlight=False, soft_wrap=True)


@app.command("embed", epilog="Examples:\n\n"
             "  train embed data/manifest.csv   # imagenet resnet18, into data/.cache/embed/\n\n"
             "  train embed data/manifest.csv --weights runs/doom/model.pt -o doom.features.npz")
def embed_cmd(
    manifest: ManifestArg = DEFAULT_MANIFEST,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Features file to write (default: "
                                                ".cache/embed/ in the dataset folder, where curate "
                                                "dedupe --method embedding reads it).")] = None,
    arch: Annotated[str, typer.Option(help="Backbone (a train --arch).")] = "resnet18",
    weights: Annotated[str, typer.Option(help="imagenet, none, or a PATH (a train model.pt or state "
                                         "dict).")] = "imagenet",
    img_size: Annotated[int | None, typer.Option(help="Input side (default: the weights').")] = None,
    device: DeviceOpt = "auto",
    root: Annotated[Path | None, typer.Option(help="Folder the image paths are relative to (default: "
                                              "the manifest's).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Embed the images of the ok rows into a features file keyed by sha256 (L2-normalised backbone
    features); images already in the file are not embedded again."""
    from .embed import embed_manifest

    with RichProgress(enabled=not as_json) as progress:
        done = embed_manifest(use_manifest(manifest, quiet=as_json), output, arch, weights, img_size,
                              device, root, progress)
    if as_json:
        print_json({"path": str(done.path), "embedded": done.embedded, "reused": done.reused,
                    "unreadable": done.unreadable})
        return
    err_console.print(f"features: {done.path} ({done.embedded} embedded, {done.reused} reused, "
                      f"{done.unreadable} unreadable)", highlight=False)


GROUP_OPTIONS = ("-v", "-vv", "-vvv", "--verbose")


def with_default_command(args: list[str]) -> list[str]:
    """``train manifest.csv ...`` (or ``train --arch x manifest.csv``) means ``train run ...``."""
    i = 0
    while i < len(args) and args[i] in GROUP_OPTIONS:
        i += 1
    if i == len(args) or args[i] in COMMANDS or args[i] in ("--help", "--version", "--install-completion",
                                                              "--show-completion"):
        return args
    if _misspelt_command(args[i]):
        return args  # click then says "No such command 'predct'. Did you mean 'predict'?"
    return [*args[:i], "run", *args[i:]]


def _misspelt_command(word: str) -> bool:
    """A word close to a command name that is not an existing file: a typo, not a manifest."""
    from difflib import get_close_matches

    return (not word.startswith("-") and not Path(word).exists()
            and bool(get_close_matches(word, COMMANDS, n=1, cutoff=0.6)))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``train`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    raise SystemExit(run_app(app, with_default_command(args), "train"))
