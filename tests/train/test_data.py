"""Manifest -> usable rows: errors that say what to do, counted skips, decode cache and samplers."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import manifests
from manifests import InputError, schema
from train import data
from train.model import Preprocess

from .conftest import make_dataset


def _copy(src: Path, tmp_path: Path) -> Path:
    shutil.copytree(src.parent, tmp_path / "ds")
    return tmp_path / "ds" / src.name


def test_usable_rows_and_sorted_classes(tiny):
    table = data.load_table(tiny)
    assert table.classes == ("circle", "square", "stripes")
    assert len(table.split("train")) == 15 and len(table.split("val")) == 9
    assert table.skipped == {}


def test_no_split_column_says_run_curate_split(tmp_path):
    manifest = make_dataset(tmp_path, per_split={"train": 2}, with_split=False)
    with pytest.raises(InputError, match=r"no split column.*curate split"):
        data.load_table(manifest)


def test_class_without_train_images_is_named(tiny, tmp_path):
    manifest = _copy(tiny, tmp_path)
    frame = manifests.read(manifest)
    frame.loc[(frame[schema.LABEL] == "square") & (frame[schema.SPLIT] == "train"), schema.SPLIT] = "val"
    manifests.write(frame, manifest)
    with pytest.raises(InputError, match="square have no usable train images"):
        data.load_table(manifest)


def test_rows_not_ok_are_left_out(tiny, tmp_path):
    manifest = _copy(tiny, tmp_path)
    frame = manifests.read(manifest)
    frame.loc[frame[schema.LABEL] == "stripes", schema.STATUS] = schema.CORRUPT
    manifests.write(frame, manifest)
    assert data.load_table(manifest).classes == ("circle", "square")


def test_missing_image_file_is_a_counted_skip(tiny, tmp_path, caplog):
    manifest = _copy(tiny, tmp_path)
    frame = manifests.read(manifest)
    (manifest.parent / frame[schema.PATH].iloc[0]).unlink()
    table = data.load_table(manifest)
    assert table.skipped == {"missing file": 1}
    assert len(table.rows) == len(frame) - 1
    assert "missing" in caplog.text


def test_single_class_is_an_error(tmp_path):
    manifest = make_dataset(tmp_path, classes=("circle",), per_split={"train": 2, "val": 1})
    with pytest.raises(InputError, match="at least 2"):
        data.load_table(manifest)


def test_jpeg_decodes_at_reduced_size_into_a_centred_square(tmp_path):
    arr = np.zeros((600, 800, 3), np.uint8)
    arr[:, 300:500] = 255  # a white band in the middle of a wide photo
    Image.fromarray(arr).save(tmp_path / "big.jpg", quality=95)
    out = data.load_image(tmp_path / "big.jpg", Preprocess(32, 32))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert out[:, 14:18].mean() > 200 and out[:, :3].mean() < 60  # centre crop keeps the band


def test_cache_decodes_once(tiny, tmp_path, monkeypatch):
    table = data.load_table(tiny)
    frame = table.split("train")
    cache = data.split_cache(tmp_path / "cache", table, frame, Preprocess(32, 32))
    ds = data.ManifestDataset(table, frame, Preprocess(32, 32), cache)
    first = ds[0][0]
    monkeypatch.setattr(data, "load_image", lambda *a: pytest.fail("decoded again"))
    again = data.ManifestDataset(table, frame, Preprocess(32, 32),
                                 data.split_cache(tmp_path / "cache", table, frame, Preprocess(32, 32)))[0][0]
    assert torch.equal(first, again)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2  # the pixels and the filled flags


def test_dataset_yields_uint8_chw(tiny, tmp_path):
    table = data.load_table(tiny)
    ds = data.ManifestDataset(table, table.split("val"), Preprocess(32, 32))
    img, target, index = ds[4]
    assert img.shape == (3, 32, 32) and str(img.dtype) == "torch.uint8"
    assert target == table.targets(table.split("val"))[4] and index == 4


def test_balanced_sampling_uses_inverse_class_frequency(tiny, tmp_path):
    manifest = _copy(tiny, tmp_path)
    frame = manifests.read(manifest)
    drop = frame[(frame[schema.LABEL] == "circle") & (frame[schema.SPLIT] == "train")].index[:4]
    manifests.write(frame.drop(drop), manifest)
    table = data.load_table(manifest)
    train = table.split("train")
    sampler = data.train_sampler(table, train, balanced=True, seed=0)
    drawn = Counter(table.targets(train)[i] for _ in range(40) for i in sampler)
    shares = np.array([drawn[c] for c in range(3)]) / sum(drawn.values())
    assert np.all(np.abs(shares - 1 / 3) < 0.05)  # circle has 1 train image, the others 5


def test_balanced_sampling_prefers_the_weight_column(tiny):
    table = data.load_table(tiny)
    train = table.split("train").copy()
    train[schema.WEIGHT] = np.where(train[schema.LABEL] == "circle", 3.0, 1.0)
    weights = data.class_weights(table, train)
    assert weights.max() == 3.0 and weights.min() == 1.0
    sampler = data.train_sampler(table, train, balanced=True, seed=0)
    circle = (train[schema.LABEL] == "circle").to_numpy()
    drawn = np.array([circle[i] for _ in range(60) for i in sampler])
    expected = 3 * circle.sum() / (3 * circle.sum() + (~circle).sum())
    assert abs(drawn.mean() - expected) < 0.05  # drawn by the weight column, not by class counts
    assert data.train_sampler(table, train, balanced=False, seed=0) is None  # plain shuffle


def test_larger_cached_squares_are_resized_to_the_input(tiny, tmp_path):
    table = data.load_table(tiny)
    frame = table.split("train")
    cache = data.split_cache(tmp_path / "cache", table, frame, Preprocess(32, 32), size=48)
    ds = data.ManifestDataset(table, frame, Preprocess(32, 32), cache)
    img, _, _ = ds[0]
    assert img.shape == (3, 32, 32)
    assert cache.filled(0) and cache.batch(np.array([0])).shape == (1, 3, 48, 48)


def test_evaluation_needs_no_train_split(tiny, tmp_path):
    manifest = _copy(tiny, tmp_path)
    frame = manifests.read(manifest)
    manifests.write(frame.assign(**{schema.SPLIT: "test"}), manifest)
    with pytest.raises(InputError, match="no usable train rows"):
        data.load_table(manifest)
    assert len(data.load_table(manifest, for_training=False).split("test")) == len(frame)


def test_predict_finds_every_suffix_folder_import_takes(tmp_path):
    """One suffix list: ``train predict DIR`` takes .avif and .heic files as ``harvest folder`` does."""
    from manifests.images import ImageError, image_suffixes
    from train.predict import image_files

    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "a.avif")
    (tmp_path / "b.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))  # no HEIF plug-in here
    Image.new("RGB", (40, 30)).save(tmp_path / "c.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    found = image_files([tmp_path])
    assert [p.name for p in found] == ["a.avif", "b.heic", "c.jpg"]
    assert {p.suffix for p in found} <= image_suffixes()  # the list harvest folder imports by
    pre = Preprocess(size=16, resize=16)
    arr = data.load_image(tmp_path / "a.avif", pre)
    assert arr.shape == (16, 16, 3) and arr[..., 0].mean() > 150  # decoded, not skipped
    with pytest.raises(ImageError) as failed:
        data.load_image(tmp_path / "b.heic", pre)
    assert failed.value.status == schema.CORRUPT  # a named status, reported as a row by predict
