"""``train`` in a new user's first hour (issue 26): never silent at the start, an ETA for the whole run,
a warning when a class has too few images, a legend for review.html's Grad-CAM colours, one line when
``--folds`` exceeds a class.

One tiny run through ``train.cli.main`` in this process (the tiny timm ResNet of tests/fixtures/models.py,
32 px, 2 epochs): what it prints is the verdict, never its numbers.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

import manifests
from manifests import schema
from tests.fixtures import media
from tests.fixtures.chromium import probe_verdict
from tests.fixtures.models import ARCH
from train import cli as train_cli
from train.data import MIN_PER_CLASS

RUN = ["--arch", ARCH, "--weights", "none", "--img-size", "32", "--device", "cpu", "--epochs", "2",
       "--freeze-epochs", "0", "--batch-size", "8", "--workers", "0", "--early-stop", "0"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of a ``train`` command run in this process."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        train_cli.main(args)
    return int(exc.value.code or 0), capsys.readouterr().err  # notes, warnings and errors: stderr


def dataset(root: Path, sizes: dict[str, dict[str, int]]) -> Path:
    """A split manifest with ``sizes[label][split]`` generated 16x16 images."""
    records, n = [], 0
    for label, per_split in sizes.items():
        for split, count in per_split.items():
            for _ in range(count):
                rel = f"images/{label}/{n}.png"
                data = media.png(n, (16, 16))
                media.write(root / rel, data)
                records.append({schema.SHA256: hashlib.sha256(data).hexdigest(), schema.SOURCE: "folder",
                                schema.ORIGIN: rel, schema.STATUS: schema.OK, schema.LABEL: label,
                                schema.PATH: rel, schema.SPLIT: split})
                n += 1
    path = root / "manifest.csv"
    manifests.write(manifests.from_records(records), path)
    return path


def test_train_speaks_at_once_gives_a_run_eta_and_warns_of_few_images(tmp_path, capsys):
    train_min = MIN_PER_CLASS["train"]
    manifest = dataset(tmp_path, {"a": {"train": train_min, "val": 5, "test": 5},
                                  "b": {"train": train_min, "val": 5, "test": 5},
                                  "c": {"train": 2, "val": 1}})
    code, said = run(["run", str(manifest), *RUN, "--out", str(tmp_path / "run")], capsys)
    assert code == 0, said
    flat = " ".join(said.split())  # the log handler wraps long records
    assert flat.startswith("train: loading PyTorch"), said[:300]
    assert re.search(rf"training {re.escape(ARCH)} on {2 * train_min + 2} train / 11 val / 10 test images "
                     r"of 3 classes: up to 2 epochs", flat), said
    few = re.search(r"few images: (.*?) \(docs/train\.md: at least", flat)
    assert few, said
    assert few.group(1) == "train: 'c' 2; val: 'c' 1; test: 'c' 0"  # a and b are at the minimum
    assert re.search(r"epoch 1 \(\w+\): [^;]*; run: about \d+ s left \(1 more epoch at most\)", flat), said
    assert re.search(r"epoch 2 \(\w+\): [^;]* img/s", flat) and not re.search(r"epoch 2 [^;]*; run:", flat)
    # review.html explains its Grad-CAM colours: jet's gradient from dark blue (low) to dark red (high)
    review = (tmp_path / "run" / "review.html").read_text(encoding="utf-8")
    scale = re.search(r"Grad-CAM colours: <span>low</span> .*?linear-gradient\(to right, "
                      r"(#\w{6}).*?(#\w{6})\)'></span> <span>high</span>", review)
    assert scale and scale.groups() == ("#00007f", "#7f0000"), review[:2000]
    shown = rendered_scale(tmp_path / "run" / "review.html", tmp_path)
    if shown is not None:  # Chromium draws it: a visible gradient bar beside the words
        assert shown["image"].startswith("linear-gradient(to right, rgb(0, 0, 127)"), shown
        assert shown["width"] == 240 and shown["height"] == 14 and "low" in shown["text"], shown


# Runs in Chromium after layout: what the Grad-CAM legend's colour bar looks like on screen.
PROBE = """<script>
const bar = document.querySelector('.legend .scale');
const pre = document.createElement('pre'); pre.id = 'verdict';
pre.textContent = JSON.stringify(bar && {image: getComputedStyle(bar).backgroundImage,
  width: bar.getBoundingClientRect().width, height: bar.getBoundingClientRect().height,
  text: bar.parentElement.innerText});
document.body.appendChild(pre);
</script>"""


def rendered_scale(page: Path, tmp_path: Path) -> dict | None:
    """The legend's colour bar as headless Chromium lays it out; ``None`` without Chromium (``make
    test`` requires it: then its absence fails)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        assert not os.environ.get("GLEANSET_REQUIRE_CHROMIUM"), "chromium is missing"
        return None
    return probe_verdict(browser, page, PROBE, tmp_path)


def test_the_first_line_comes_before_pytorch_loads(tmp_path, capsys, monkeypatch):
    """Printed before ``train.runner`` (PyTorch) is imported: a missing runner still finds it said."""
    monkeypatch.setitem(sys.modules, "train.runner", None)  # importing it now raises ImportError
    capsys.readouterr()
    with pytest.raises(ImportError):
        train_cli.main(["run", str(tmp_path / "m.csv"), *RUN])
    assert capsys.readouterr().err.startswith("train: loading PyTorch")


def test_more_folds_than_a_class_has_rows_is_one_line(tmp_path, capsys):
    manifest = dataset(tmp_path, {"a": {"train": 8}, "b": {"train": 2}})
    code, said = run(["run", str(manifest), *RUN, "--folds", "3"], capsys)
    assert code == 2, said
    assert "Traceback" not in said
    error = [line for line in said.splitlines() if line.startswith("error:")]
    assert error == ["error: class 'b' has 2 ok rows, fewer than --folds 3: some folds would score it "
                     "with no way to learn it; use --folds 2 or fewer, or add rows of that class"]
