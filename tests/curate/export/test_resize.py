"""One resize path (``manifests.store.reencode``) for every export format: the same image exported with
``--resize`` gives the same pixels in imagefolder, hf, fastai, csv and webdataset, keeps alpha where its
format has it (PNG, WebP), keeps JPEG, PNG and WebP as they are and writes the others as PNG."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import manifests
from curate.export import ExportOptions, export
from curate.export.formats import FORMATS
from manifests import schema, store

SIDE = 24  # the shorter side asked for


def _image(mode: str, seed: int) -> Image.Image:
    """A 64x48 image with structure (and a gradient alpha in RGBA), so resizing moves real pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1) % 256 + rng.integers(0, 20, (48, 64, 3))
    pixels = np.clip(rgb, 0, 255).astype(np.uint8)
    if mode == "RGBA":
        alpha = (x * 255 // 63).astype(np.uint8)[..., None]
        return Image.fromarray(np.concatenate([pixels, alpha], axis=-1), "RGBA")
    return Image.fromarray(pixels, "RGB")


SOURCES = {  # file name -> (image, save options, the re-encoded format's extension, the mode written)
    "a.png": ("RGBA", {}, "png", "RGBA"),
    "b.webp": ("RGBA", {"lossless": True}, "webp", "RGBA"),
    "c.jpg": ("RGB", {"quality": 90}, "jpg", "RGB"),
    "d.gif": ("RGB", {}, "png", "P"),  # not kept as it is: written as PNG, its palette kept
}


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    rows = []
    for i, (name, (mode, save, _, _)) in enumerate(SOURCES.items()):
        path = tmp_path / "images" / name
        path.parent.mkdir(exist_ok=True)
        _image(mode, i).save(path, **save)
        rows.append({schema.SHA256: hashlib.sha256(path.read_bytes()).hexdigest(),
                     schema.PATH: f"images/{name}", schema.LABEL: "x", schema.SOURCE: "folder",
                     schema.ORIGIN: str(path), schema.STATUS: schema.OK, schema.SPLIT: "train"})
    manifests.write(manifests.from_records(rows), tmp_path / "manifest.csv")
    return tmp_path / "manifest.csv"


def _exported(out: Path, name: str) -> dict[str, tuple[str, Image.Image]]:
    """The images an export wrote, by the stem of their source: (file extension, decoded image)."""
    found: dict[str, tuple[str, Image.Image]] = {}
    if name == "webdataset":
        for shard in out.rglob("*.tar"):
            with tarfile.open(shard) as tar:
                for member in tar.getmembers():
                    ext = member.name.rsplit(".", 1)[1]
                    if ext in ("jpg", "png", "webp"):
                        data = tar.extractfile(member).read()  # type: ignore[union-attr]
                        found[member.name.split("/")[-1][0]] = (ext, Image.open(io.BytesIO(data)))
        return found
    for path in out.rglob("*"):
        if path.suffix.lstrip(".") in ("jpg", "png", "webp"):
            found[path.name[0]] = (path.suffix.lstrip("."), Image.open(path))
    return found


def test_every_format_resizes_alike_and_keeps_alpha(manifest: Path, tmp_path: Path) -> None:
    frame, root = manifests.read(manifest), manifest.parent
    seen: dict[str, dict[str, tuple[str, Image.Image]]] = {}
    for name in FORMATS:
        report = export(frame, root, tmp_path / name, ExportOptions(format=name, resize=SIDE))
        assert report.written == len(SOURCES) and not report.failed, (name, report.failed)
        seen[name] = _exported(tmp_path / name, name)
        assert set(seen[name]) == {n[0] for n in SOURCES}, name
    for source, (_, _, ext, mode) in SOURCES.items():
        expected = store.reencode(root / "images" / source, SIDE)
        reference = np.asarray(Image.open(io.BytesIO(expected.data)))
        for name in FORMATS:
            got_ext, image = seen[name][source[0]]
            assert got_ext == ext == expected.extension, (name, source)
            assert min(image.size) == SIDE and image.mode == mode, (name, source)
            assert np.array_equal(np.asarray(image), reference), (name, source)  # the same pixels
            if mode == "RGBA":
                assert np.asarray(image)[..., 3].min() < 128  # the alpha survived


def test_without_resize_webdataset_keeps_png_and_webp_as_they_are(manifest: Path, tmp_path: Path) -> None:
    frame, root = manifests.read(manifest), manifest.parent
    export(frame, root, tmp_path / "wds", ExportOptions(format="webdataset"))
    seen = _exported(tmp_path / "wds", "webdataset")
    assert {k: ext for k, (ext, _) in seen.items()} == {"a": "png", "b": "webp", "c": "jpg", "d": "png"}
    assert seen["a"][1].mode == "RGBA" and seen["b"][1].mode == "RGBA"
