"""Perceptual hashing: agreement with imagehash on the full decode, reduced decoding, stored hashes."""

from __future__ import annotations

from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import manifests
from curate.dedupe import hashing
from curate.dedupe.index import hamming, to_words
from manifests import images, schema
from tests.fixtures import media
from tests.fixtures.transforms import scene


def _full_hash(path: Path, how: hashing.HashMethod, size: int) -> str:
    with Image.open(path) as img:
        img.load()
        return str(how.compute(img, size, img.size))


def _bits_apart(a: str, b: str) -> int:
    x, y = hashing.hex_to_bits([a, b], len(a))
    return int(np.unpackbits(x ^ y).sum())


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Photo-like images as large JPEGs (where draft mode matters) and PNGs."""
    root = tmp_path_factory.mktemp("photos")
    paths = []
    for seed in range(24):
        img = scene(1280, 720, seed=seed)
        path = root / f"{seed}.jpg"
        img.save(path, quality=88)
        paths.append(path)
    for seed in range(24, 32):
        path = root / f"{seed}.png"
        scene(800, 600, seed=seed).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("name", ["phash", "dhash", "ahash", "colorhash"])
def test_reduced_decoding_agrees_with_imagehash(photos: list[Path], name: str) -> None:
    how = hashing.METHODS[name]
    size = how.default_size
    apart = []
    for path in photos:
        value, _, status, _ = hashing.hash_file(str(path), name, size)
        assert status is None
        apart.append(_bits_apart(value, _full_hash(path, how, size)))
    within = np.mean(np.array(apart) <= 2)
    assert within >= 0.99, f"{name}: only {within:.0%} within 2 bits ({apart})"


def test_draft_decodes_a_large_jpeg_at_reduced_size(photos: list[Path]) -> None:
    with Image.open(photos[0]) as opened:
        full = opened.size
        img = hashing.decode_for(str(photos[0]), hashing.METHODS["phash"], 8).image
    assert full == (1280, 720)
    assert img.size[1] < 720 // 2 and min(img.size) >= hashing.DRAFT_FACTOR * 32
    assert img.mode == "L"


def test_registry_contract() -> None:
    img = scene(200, 150, seed=1)
    for name, how in hashing.METHODS.items():
        assert how.name == name
        assert how.column in schema.COLUMNS and how.flip_column in schema.COLUMNS
        for size in (how.default_size, 2 * how.default_size):
            value = str(how.compute(img, size, img.size))
            assert len(value) == how.hex_length(size), name
    with pytest.raises(manifests.UsageError, match="choose from"):
        hashing.method("nope")


def test_hex_to_bits_keeps_hamming_distance() -> None:
    a = imagehash.phash(scene(300, 200, seed=3))
    b = imagehash.phash(scene(300, 200, seed=4))
    words = to_words(hashing.hex_to_bits([str(a), str(b)], len(str(a))))
    assert hamming(words[:1], words[1:])[0] == a - b


def test_mirror_hash_matches_hash_of_mirrored_file(tmp_path: Path) -> None:
    img = scene(400, 300, seed=5)
    img.save(tmp_path / "a.png")
    img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "b.png")
    value_a, mirror_a, _, _ = hashing.hash_file(str(tmp_path / "a.png"), "phash", 8, flip=True)
    value_b, _, _, _ = hashing.hash_file(str(tmp_path / "b.png"), "phash", 8)
    assert mirror_a == value_b and value_a != value_b


def _frame(paths: list[Path], root: Path) -> pd.DataFrame:
    return manifests.from_records([{schema.SHA256: f"{i:064x}", schema.PATH: str(p.relative_to(root)),
                                    schema.STATUS: schema.OK} for i, p in enumerate(paths)])


def test_compute_hashes_only_for_rows_lacking_them(tmp_path: Path) -> None:
    paths = [media.write(tmp_path / f"{i}.jpg", media.jpeg(i, (120, 90))) for i in range(4)]
    paths.append(tmp_path / "gone.jpg")
    paths.append(media.write(tmp_path / "bad.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"))
    frame = _frame(paths, tmp_path)
    frame.loc[0, schema.PHASH] = "0123456789abcdef"  # stored, right length: kept
    frame.loc[1, schema.PHASH] = "0123"  # another hash size: recomputed
    frame.loc[2, schema.PHASH] = "not-a-hash-at-al"  # garbage of the right length: recomputed
    how = hashing.METHODS["phash"]
    outcome = hashing.compute_hashes(frame, tmp_path, frame.index.to_numpy(), how, 8, flip=False)
    assert outcome == hashing.HashOutcome(hashed=3, failed=2, reused=1)
    assert frame.loc[0, schema.PHASH] == "0123456789abcdef"
    assert frame.loc[1, schema.PHASH] == _full_hash(paths[1], how, 8)
    assert frame.loc[2, schema.PHASH] == _full_hash(paths[2], how, 8)
    assert frame.loc[4, schema.STATUS] == schema.UNREADABLE and "not found" in frame.loc[4, schema.ERROR]
    # one mapping of failures: hashing names a broken file as the image store does
    assert frame.loc[5, schema.STATUS] == images.inspect_file(paths[5]).status == schema.TRUNCATED
    again = hashing.compute_hashes(frame, tmp_path, frame.index[:4].to_numpy(), how, 8, flip=False)
    assert again.hashed == 0 and again.reused == 4


def test_process_pool_gives_the_same_hashes(tmp_path: Path) -> None:
    paths = [str(media.write(tmp_path / f"{i}.png", media.png(i, (48, 40)))) for i in range(70)]
    one = list(hashing.hash_files(paths, "dhash", 8, workers=1))
    two = list(hashing.hash_files(paths, "dhash", 8, workers=2))
    assert one == two and len({r[0] for r in one}) > 60


@pytest.mark.shared
def test_mixed_images_fixture(shared_fixtures: Path) -> None:
    folder = shared_fixtures / "images" / "mixed_images"
    results = {p.name: hashing.hash_file(str(p), "phash", 8, flip=True) for p in sorted(folder.iterdir())}
    original = results["ukbench00120.jpg"]
    assert _bits_apart(original[0], results["ukbench00120_resize.jpg"][0]) <= 2
    assert _bits_apart(original[0], results["ukbench00120_hflip.jpg"][0]) > 10
    assert _bits_apart(original[1], results["ukbench00120_hflip.jpg"][0]) <= 2
    assert _bits_apart(original[0], results["ukbench09268.jpg"][0]) > 10
    assert results["ukbench09268_corrupt.jpg"][2] == schema.CORRUPT


def test_cli_help_names_every_method_and_engine() -> None:
    from curate import cli
    from curate.dedupe.index import ENGINES

    assert tuple(hashing.METHODS) == cli.METHOD_NAMES and tuple(ENGINES) == cli.ENGINE_NAMES
