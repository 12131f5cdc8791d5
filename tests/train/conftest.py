"""Generated datasets for the trainer's tests: three learnable classes on three streets, split by hand."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import manifests
from manifests import schema
from tests.fixtures.models import ARCH

STREET = "street"  # a pattern field, not a schema column: group columns are declared

CLASSES = ("circle", "square", "stripes")
COLOURS = {"circle": (220, 60, 60), "square": (60, 200, 60), "stripes": (60, 80, 220)}
STREETS = ("ttc", "dg", "ddl")


def shape_image(label: str, street: int, rng: np.random.Generator, side: int = 48) -> Image.Image:
    """A noisy background (darker per street, tinted by class) with a shape whose form and colour give
    the class."""
    base = 0.5 * (150 - 40 * street) + 0.5 * np.array(COLOURS[label], dtype=float)  # tinted by class
    arr = np.clip(rng.normal(base, 8, (side, side, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(img)
    colour = tuple(int(c + rng.integers(-20, 20)) for c in COLOURS[label])
    r = int(rng.integers(side // 4, side // 3))
    cx, cy = (int(v) for v in rng.integers(r + 1, side - r - 1, 2))
    if label == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif label == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        for y in range(int(rng.integers(0, 4)), side, 8):
            draw.rectangle((0, y, side, y + 3), fill=colour)
    return img


def make_dataset(root: Path, classes: tuple[str, ...] = CLASSES, per_split: dict[str, int] | None = None,
                 seed: int = 0, with_split: bool = True) -> Path:
    """Write images and a manifest (status ok, street group, split column set here)."""
    per_split = per_split or {"train": 20, "val": 8, "test": 6}
    rng = np.random.default_rng(seed)
    records = []
    for label in classes:
        for split, n in per_split.items():
            for i in range(n):
                street = int(rng.integers(0, len(STREETS)))
                img = shape_image(label, street, rng)
                fmt = "jpeg" if i % 3 == 0 else "png"
                rel = f"images/{label}/{split}_{i}.{'jpg' if fmt == 'jpeg' else 'png'}"
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                img.save(path, quality=95) if fmt == "jpeg" else img.save(path)
                records.append({schema.SHA256: hashlib.sha256(path.read_bytes()).hexdigest(),
                                schema.PATH: rel, schema.LABEL: label, schema.SOURCE: "folder",
                                schema.WIDTH: 48, schema.HEIGHT: 48, schema.FORMAT: fmt,
                                schema.STATUS: schema.OK, STREET: STREETS[street],
                                schema.SPLIT: split if with_split else None})
    manifest = root / "manifest.csv"
    manifests.write(manifests.from_records(records), manifest)
    return manifest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a few shared cores, more threads spin against each other (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three-class dataset's manifest (shared, read-only)."""
    return make_dataset(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A very small three-class dataset (for runs that test plumbing, not learning)."""
    return make_dataset(tmp_path_factory.mktemp("tiny"), per_split={"train": 5, "val": 3}, seed=1)


@pytest.fixture(scope="session")
def trained(shapes: Path, tmp_path_factory: pytest.TempPathFactory, train_seed: int):
    """One real run on the shapes dataset: the tiny test ResNet from scratch, 3 epochs, 32 px, CPU."""
    from train.runner import TrainOptions, train

    out = tmp_path_factory.mktemp("runs") / "shapes"
    opts = TrainOptions(arch=ARCH, weights="none", epochs=3, freeze_epochs=0, img_size=32,
                        batch_size=8, lr=5e-3, workers=0, device="cpu", out=out, review=4,
                        seed=train_seed)
    return train(shapes, opts)
