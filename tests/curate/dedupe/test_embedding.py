"""``curate dedupe --method embedding``: exact cosine pairs, and a backbone trained in the test that
groups rotated, cropped and recoloured copies with their original, which a perceptual hash misses."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

import manifests
from curate.dedupe import DedupeOptions, dedupe
from curate.dedupe.embedding import cosine_pairs
from manifests import schema
from tests.fixtures.models import ARCH
from tests.fixtures.transforms import scene

PHOTOS = 6


def test_cosine_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(300, 16)).astype(np.float32)
    feats[150:] = feats[:150] + rng.normal(0, 0.3, (150, 16))
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    sims = feats @ feats.T
    expected = {(i, j) for i, j in itertools.combinations(range(300), 2) if sims[i, j] >= 0.9}
    import curate.dedupe.embedding as emb
    old, emb.BLOCK_VALUES = emb.BLOCK_VALUES, 1000  # many blocks
    try:
        i, j = cosine_pairs(feats, 0.9)
    finally:
        emb.BLOCK_VALUES = old
    assert len(expected) > 100 and set(zip(i.tolist(), j.tolist(), strict=True)) == expected


def _variant(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random rotation (by quarter turns), crop and colour change of a photo."""
    w, h = img.size
    dx, dy = (int(v) for v in rng.integers(0, w // 8, 2))
    out = img.crop((dx, dy, w - int(rng.integers(0, w // 8)), h - int(rng.integers(0, h // 8))))
    out = out.rotate(90 * int(rng.integers(0, 4)), expand=True)
    arr = np.asarray(out, dtype=float) * rng.uniform(0.7, 1.3, 3)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _row(root: Path, img: Image.Image, rel: str, label: str, **extra: object) -> dict:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return {schema.SHA256: hashlib.sha256(path.read_bytes()).hexdigest(), schema.PATH: rel,
            schema.LABEL: label, schema.STATUS: schema.OK, schema.WIDTH: img.width,
            schema.HEIGHT: img.height, schema.BYTES: path.stat().st_size, **extra}


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory, train_seed: int) -> Path:
    """The tiny test ResNet (tests/fixtures/models.py) trained here to tell six photos apart under
    rotation, crop and recolouring."""
    from train.runner import TrainOptions, train

    root = tmp_path_factory.mktemp("instances")
    rng = np.random.default_rng(0)
    rows = []
    for p in range(PHOTOS):
        img = scene(96, 72, seed=700 + p)
        for k in range(24):
            rows.append(_row(root, _variant(img, rng), f"{p}/{k}.png", f"photo{p}",
                             split="val" if k >= 21 else "train"))
    manifests.write(manifests.from_records(rows), root / "manifest.csv")
    opts = TrainOptions(arch=ARCH, weights="none", epochs=10, freeze_epochs=0, img_size=32, batch_size=12,
                        lr=1e-2, workers=0, device="cpu", out=root / "run", review=0, seed=train_seed)
    return train(root / "manifest.csv", opts).out / "model.pt"


@pytest.mark.slow
def test_embedding_clusters_copies_that_phash_misses(backbone: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = []
    for p in range(PHOTOS):
        img = scene(96, 72, seed=700 + p)
        rows.append(_row(tmp_path, img, f"{p}/original.png", "x", photo=str(p), width=400))
        rows.append(_row(tmp_path, img.rotate(90, expand=True), f"{p}/rot90.png", "x", photo=str(p)))
        rows.append(_row(tmp_path, _variant(img, rng), f"{p}/variant.png", "x", photo=str(p)))
        rows.append(_row(tmp_path, ImageOps.mirror(img), f"{p}/mirror.png", "x", photo=str(p)))
    frame = manifests.from_records(rows)
    from train.embed import embed  # the public function curate calls

    feats = embed([str(tmp_path / p) for p in frame[schema.PATH]], weights=str(backbone), device="cpu")
    sims = feats @ feats.T
    np.fill_diagonal(sims, -1)
    nearest = frame["photo"].to_numpy()[sims.argmax(axis=1)]
    assert (nearest == frame["photo"].to_numpy()).mean() >= 0.9  # copies are each other's neighbours
    # a backbone trained for seconds separates the photos only roughly, so the threshold is set as a
    # user would after a --dry-run: just above the most similar pair of different photos
    photo = frame["photo"].to_numpy()
    cross = float(sims[photo[:, None] != photo[None, :]].max())
    out = dedupe(frame, tmp_path, DedupeOptions(method="embedding", weights=str(backbone),
                                                similarity=min(cross + 1e-3, 0.999), device="cpu")).frame
    cluster = out[schema.DUP_CLUSTER].fillna("single:" + out[schema.SHA256])
    assert out.groupby(cluster)["photo"].nunique().max() == 1  # no cluster holds two photos
    rotated = out[out[schema.PATH].str.endswith("rot90.png")]
    assert (rotated[schema.STATUS] == schema.DUPLICATE).sum() >= 1  # copies a phash cannot see
    marked = rotated.dropna(subset=[schema.DUP_OF])
    keepers = out.set_index(schema.SHA256).loc[marked[schema.DUP_OF], "photo"].to_numpy()
    assert (keepers == marked["photo"].to_numpy()).all()  # each the duplicate of a copy of its photo
    assert out[schema.ERROR].dropna().str.contains("cosine similarity").all()
    hashed = dedupe(frame, tmp_path, DedupeOptions()).frame  # phash: rotations are different images
    rotated = hashed[hashed[schema.PATH].str.endswith("rot90.png")]
    firsts = hashed[hashed[schema.PATH].str.endswith("original.png")]
    originals = firsts.set_index("photo")[schema.DUP_CLUSTER]
    assert (rotated[schema.STATUS] == schema.OK).all()  # (a random variant may be rotated alike: fine)
    pairs = zip(rotated["photo"], rotated[schema.DUP_CLUSTER], strict=True)
    assert all(pd.isna(c) or pd.isna(originals[p]) or c != originals[p] for p, c in pairs)
