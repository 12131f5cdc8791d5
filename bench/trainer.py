"""Benchmark: the whole trainer's images/s against the model alone on synthetic tensors, in one run.

(Named trainer.py: a script called bench/train.py would shadow the ``train`` package.)

The anchor, timed before and after the trainer (their mean is the reference), is the least any
trainer must do: forward, backward and an AdamW step of the same model, same batch size, input size,
AMP mode and memory format, on tensors already on the device. The trainer
is ``train.runner.train`` on a generated manifest of JPEG photos (decode cache, loaders, host-to-device
copies, validation every epoch, checkpoints). Its figure is the steady state: the mean images/s of the
epochs after the first (which fills the decode cache), train steps only; the whole run's wall-clock
rate (validation, outputs, review page included) is printed too. On the CPU a second row counts this
process's CPU seconds instead of wall seconds, which other load on a shared machine does not distort
(use ``--workers 0`` so decoding is counted too). The first epoch's rate (decoding and cache fill) is
printed as its own column. ``--features`` adds a second table: ``--features-only`` (backbone features
once, then the head) against full fine-tuning on the same generated data (the images carry a faint
class tint, so validation accuracy means something), whole runs timed. Prints Markdown rows for
BENCHMARKS.md.

    .venv/bin/python bench/trainer.py                      # CPU: resnet18, 112 px
    .venv/bin/python bench/trainer.py --arch resnet50 --img-size 224 --n 4096 --batch-size 128   # GPU
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import manifests
from manifests import schema
from manifests.progress import NoProgress
from train.device import make_context, pick_device
from train.model import build_model, get_arch, preprocess_for
from train.runner import TrainOptions, train


def make_manifest(root: Path, n: int, classes: int = 4, side: tuple[int, int] = (640, 480)) -> Path:
    """``n`` train and ``n // 8`` val JPEG photos (640x480: the decoder's work is real)."""
    rng = np.random.default_rng(0)
    records = []
    for i in range(n + n // 8):
        label = f"c{i % classes}"
        base = rng.integers(0, 200, (side[1] // 16, side[0] // 16, 3), dtype=np.uint8)
        base[..., i % 3] += np.uint8(20 * (i % classes))  # a faint class tint: learnable, not trivial
        img = Image.fromarray(base).resize(side, Image.Resampling.BILINEAR)
        path = root / "img" / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, quality=90)
        records.append({schema.SHA256: hashlib.sha256(path.read_bytes()).hexdigest(),
                        schema.PATH: f"img/{i}.jpg", schema.LABEL: label, schema.STATUS: schema.OK,
                        schema.SPLIT: "train" if i < n else "val"})
    manifest = root / "manifest.csv"
    manifests.write(manifests.from_records(records), manifest)
    return manifest


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def model_only(args: argparse.Namespace, device: torch.device) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of train steps on synthetic device tensors."""
    pre = preprocess_for(get_arch(args.arch), "none", args.img_size)
    model = build_model(args.arch, 4, "none").to(device).to(memory_format=torch.channels_last).train()
    ctx = make_context(device, args.amp, pre, False, 0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 4, (args.batch_size,), device=device)
    steps, seen, start, cpu = 0, 0, 0.0, 0.0
    while True:
        if steps == 3:  # warm-up done
            _sync(device)
            start, cpu, seen = time.perf_counter(), time.process_time(), 0
        with ctx.autocast():
            loss = ctx.loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
        seen += args.batch_size
        if steps >= 3 + args.min_steps:
            _sync(device)
            if time.perf_counter() - start > args.seconds:
                return seen / (time.perf_counter() - start), seen / (time.process_time() - cpu)


class EpochClock(NoProgress):
    """A train() progress hook that times the train part of each epoch, on the wall and CPU clocks."""

    def __init__(self, batch: int) -> None:
        self.batch, self.epochs = batch, []

    def task(self, description: str, total: int | None = None, transient: bool = False) -> EpochClock:
        self.epochs.append({"start": time.perf_counter(), "cpu": time.process_time(), "steps": 0})
        return self

    def advance(self, n: int = 1) -> None:
        e = self.epochs[-1]
        e["steps"] += n
        e["end"], e["cpu_end"] = time.perf_counter(), time.process_time()

    def rates(self, images: int) -> tuple[float, float, float]:
        """Steady (wall, CPU) images/s (epochs after the first, which fills the cache), first epoch's."""
        steady = self.epochs[1:]
        wall = sum(e["end"] - e["start"] for e in steady)
        cpu = sum(e["cpu_end"] - e["cpu"] for e in steady)
        first = self.epochs[0]["end"] - self.epochs[0]["start"]
        return images * len(steady) / wall, images * len(steady) / cpu, images / first


def trainer(args: argparse.Namespace, root: Path) -> tuple[float, float, float, float]:
    """Steady-state (wall, CPU) and first-epoch images/s of ``train`` on the generated manifest, and the
    whole run's."""
    manifest = make_manifest(root, args.n)
    opts = TrainOptions(arch=args.arch, weights="none", epochs=args.epochs, freeze_epochs=0,
                        img_size=args.img_size, batch_size=args.batch_size, amp=args.amp,
                        device=args.device, workers=args.workers, out=root / "run", early_stop=0,
                        review=2)
    clock = EpochClock(args.batch_size)
    start = time.perf_counter()
    train(manifest, opts, clock)
    whole = args.n * args.epochs / (time.perf_counter() - start)
    return (*clock.rates(args.n), whole)


def features_vs_full(args: argparse.Namespace, root: Path) -> list[tuple[str, float, float, float]]:
    """Whole-run (wall s, CPU s, val accuracy) of full fine-tuning and of --features-only, same data,
    each with a fresh cache (the features-only run computes its features inside the timing)."""
    manifest = root / "manifest.csv"
    rows = []
    for name, extra in (("full fine-tuning", {"epochs": args.epochs}),
                        ("--features-only", {"epochs": args.feature_epochs, "features_only": True})):
        opts = TrainOptions(arch=args.arch, weights="none", freeze_epochs=0, img_size=args.img_size,
                            batch_size=args.batch_size, amp=args.amp, device=args.device,
                            workers=args.workers, out=root / name.strip("-"), early_stop=0, review=2,
                            cache_dir=root / f"cache-{name.strip('-')}", **extra)
        start, cpu = time.perf_counter(), time.process_time()
        result = train(manifest, opts)
        rows.append((f"{name} ({extra['epochs']} epochs)", time.perf_counter() - start,
                     time.process_time() - cpu, result.metrics["val"]["accuracy"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--img-size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--n", type=int, default=512, help="train images")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--min-steps", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=15, help="timing window of the model alone")
    parser.add_argument("--features", action="store_true", help="also: --features-only vs full fine-tuning")
    parser.add_argument("--feature-epochs", type=int, default=20, help="head epochs of --features-only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        before = model_only(args, device)
        wall, cpu, first, whole = trainer(args, Path(tmp))
        after = model_only(args, device)  # before and after: shared machines drift during a run
        compared = features_vs_full(args, Path(tmp)) if args.features else []
    anchor_wall, anchor_cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print("| device | arch | img | batch | clock | model alone img/s (before/after) | trainer img/s "
          "(steady) | ratio | first epoch img/s (ratio) | whole run img/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    head = f"| {name} ({torch.get_num_threads()} threads) | {args.arch} | {args.img_size} | {args.batch_size}"
    print(f"{head} | wall | {anchor_wall:.1f} ({before[0]:.1f}/{after[0]:.1f}) | {wall:.1f} "
          f"| {wall / anchor_wall:.0%} | {first:.1f} ({first / anchor_wall:.0%}) | {whole:.1f} |")
    if device.type == "cpu":  # CPU seconds of this process: robust to other load on a shared machine
        print(f"{head} | CPU | {anchor_cpu:.1f} ({before[1]:.1f}/{after[1]:.1f}) | {cpu:.1f} "
              f"| {cpu / anchor_cpu:.0%} | | |")
    if compared:
        print("\n| same data | whole run wall s | CPU s | val accuracy |\n|---|---|---|---|")
        for label, wall_s, cpu_s, acc in compared:
            print(f"| {label} | {wall_s:.1f} | {cpu_s:.1f} | {acc:.3f} |")


if __name__ == "__main__":
    main()
