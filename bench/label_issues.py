"""Benchmark: `curate label-issues` recall/precision and cost by K and model, on the generated noisy set.

The set is ``tests/fixtures/noisy.make_noisy``: three classes of coloured shapes in scenes of three
near-identical shots, 5% of labels flipped, six off-topic images planted. For each (model, K):
``train run MANIFEST --folds K`` as a subprocess (wall and CPU seconds of the child), then cleanlab
through ``curate.quality.label_issues.find_issues``. Anchors in the same run: the cost of one ordinary
``train run`` of the same model and epochs (the folds cost about K of them), and the naive detector
"argmax of the same out-of-fold probabilities differs from the label" (what cleanlab improves on).

    OMP_NUM_THREADS=1 .venv/bin/python bench/label_issues.py [--per-class 60] [--epochs 8]
        [--configs resnet18:3,resnet18:5]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import manifests
from curate.quality.label_issues import LabelIssueOptions, find_issues, read_features, read_predictions
from manifests import schema
from tests.fixtures.noisy import PLANTED, make_noisy
from train.folds import safe_batch

COMMON = ["--weights", "none", "--img-size", "32", "--device", "cpu", "--batch-size", "16", "--lr", "0.01",
          "--freeze-epochs", "0", "--workers", "0"]


def _child(cmd: list[str]) -> tuple[float, float]:
    """Run a command; its wall seconds and CPU seconds (user + system of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _scores(flagged: np.ndarray, frame) -> tuple[float, float, float]:
    flipped = frame[PLANTED].eq("flipped").fillna(False).to_numpy(bool)
    planted = frame[PLANTED].notna().to_numpy()
    n = max(1, flagged.sum())
    hits = (flagged & flipped).sum()
    return hits / flipped.sum(), hits / n, (flagged & planted).sum() / n


def single_run(manifest: Path, arch: str, epochs: int, out: Path) -> tuple[float, float]:
    frame = manifests.read(manifest)
    scene_hash = frame[schema.SCENE].map(lambda s: int(hashlib.md5(s.encode()).hexdigest(), 16) % 5)
    frame[schema.SPLIT] = np.where(scene_hash == 0, "val", "train")
    split = manifest.with_name("split.csv")
    manifests.write(frame, split)
    batch = safe_batch(int((frame[schema.SPLIT] == "train").sum()), 16)  # no 1-image BatchNorm batch
    args = [*COMMON[:COMMON.index("--batch-size")], *COMMON[COMMON.index("--batch-size") + 2:]]
    return _child([sys.executable, "-m", "train", "run", str(split), "--arch", arch, "--epochs", str(epochs),
                   *args, "--batch-size", str(batch), "--out", str(out)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--configs", default="resnet18:3,resnet18:5,resnet34:3")
    args = parser.parse_args()
    configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = make_noisy(root / "noisy", per_class=args.per_class)
        frame = manifests.read(manifest)
        print(f"{len(frame)} rows, {(frame[PLANTED] == 'flipped').sum()} flipped, "
              f"{(frame[PLANTED] == 'off_topic').sum()} off-topic; {args.epochs} epochs, 32 px, CPU")
        print("\n| model | K | wall | CPU s | CPU vs one train run | cleanlab recall | precision (flipped) "
              "| precision (flipped or off-topic) | naive argmax recall / precision "
              "| off-topic images: median rank by label_quality / off_topic |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        anchors: dict[str, float] = {}
        for arch, k in configs:
            if arch not in anchors:
                anchors[arch] = single_run(manifest, arch, args.epochs, root / f"single-{arch}")[1]
            preds = root / f"{arch}-{k}.oof.csv"
            wall, cpu = _child([sys.executable, "-m", "train", "run", str(manifest), "--folds", str(k),
                                "--arch", arch, "--epochs", str(args.epochs), *COMMON, "--fold-groups",
                                "scene", "--predictions", str(preds), "--out", str(root / f"{arch}-{k}")])
            table = read_predictions(preds)
            out, _ = find_issues(frame, table, LabelIssueOptions(), read_features(preds, table))
            flagged = out[schema.LABEL_ISSUE].fillna(False).to_numpy(bool)
            recall, prec, prec_planted = _scores(flagged, out)
            probs = table.set_index(schema.SHA256).loc[out[schema.SHA256]].filter(like="p_")
            argmax = probs.columns.str[2:].to_numpy()[probs.to_numpy().argmax(axis=1)]
            n_recall, n_prec, _ = _scores(argmax != out[schema.LABEL].to_numpy(dtype=str), out)
            odd = out[PLANTED].eq("off_topic").fillna(False).to_numpy(bool)
            q_rank = out[schema.LABEL_QUALITY].rank(pct=True).to_numpy()[odd]
            o_rank = out[schema.OFF_TOPIC].rank(pct=True).to_numpy()[odd]
            print(f"| {arch} | {k} | {wall:.0f} s | {cpu:.0f} | {cpu / anchors[arch]:.1f}x | {recall:.0%} | "
                  f"{prec:.0%} | {prec_planted:.0%} | {n_recall:.0%} / {n_prec:.0%} | "
                  f"{np.median(q_rank):.0%} / {np.median(o_rank):.0%} |", flush=True)
        print(f"\none train run (anchor), CPU s: {', '.join(f'{a} {s:.0f}' for a, s in anchors.items())}")


if __name__ == "__main__":
    main()
