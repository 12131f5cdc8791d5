"""The one image path out (:func:`manifests.store.encode`, :func:`~manifests.store.reencode`) and the
store's limits, pinned down so that the mutants ``make mutate`` made of ``manifests/store.py`` fail.

Oracles from outside the code under test: the written bytes are opened again with Pillow (mode,
size, format, alpha, pixels), a resize is compared with Pillow's own Lanczos resize of the same
pixels, and JPEG quality is read from the file's quantisation table, against the
standard's table scaled by the IJG formula.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from manifests import schema
from manifests.images import ImageError
from manifests.store import JPEG_QUALITY, Limits, encode, reencode, store_bytes, store_file

RNG = np.random.default_rng(7)
NOISE = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)


def _opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _image(mode: str) -> Image.Image:
    """A 32x24 image in ``mode`` with varied pixels and, where the mode has one, a varied alpha."""
    rgba = np.dstack([NOISE, np.tile(np.arange(0, 256, 8, dtype=np.uint8), (24, 1))])
    return Image.fromarray(rgba, "RGBA").convert(mode)


@pytest.mark.parametrize(("mode", "fmt", "want"), [
    ("RGBA", "JPEG", "RGB"), ("P", "JPEG", "RGB"), ("CMYK", "JPEG", "RGB"), ("LA", "JPEG", "RGB"),
    ("L", "JPEG", "L"), ("RGB", "JPEG", "RGB"),
    ("CMYK", "PNG", "RGB"), ("YCbCr", "PNG", "RGB"), ("PA", "PNG", "RGBA"), ("RGBA", "PNG", "RGBA"),
    ("LA", "PNG", "LA"), ("L", "PNG", "L"), ("CMYK", "WEBP", "RGB"), ("PA", "WEBP", "RGBA"),
])
def test_encode_writes_a_mode_the_format_holds(mode: str, fmt: str, want: str) -> None:
    image = _image(mode)
    encoded = encode(image, fmt)
    back = _opened(encoded.data)
    assert back.format == fmt
    assert back.mode == want
    assert encoded.size == image.size == back.size
    assert encoded.extension == {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]


def test_encode_keeps_the_alpha_of_a_palette_image_with_transparency() -> None:
    image = _image("PA")
    back = _opened(encode(image, "PNG").data)
    assert np.array_equal(np.asarray(back)[..., 3], np.asarray(image.convert("RGBA"))[..., 3])


def test_encode_defaults_to_lossless_png() -> None:
    image = _image("RGB")
    encoded = encode(image)
    assert (encoded.extension, _opened(encoded.data).format) == ("png", "PNG")
    assert np.array_equal(np.asarray(_opened(encoded.data)), np.asarray(image))


# ITU-T T.81 Annex K.1, the luminance table every JPEG encoder scales by quality (IJG's formula)
ANNEX_K_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57,
                69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64,
                81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]


def _ijg_table(quality: int) -> list[int]:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (q * scale + 50) // 100)) for q in ANNEX_K_LUMA]


def test_jpeg_is_written_at_quality_95_and_webp_at_pillows_default() -> None:
    image = _image("RGB")
    luma = list(_opened(encode(image, "JPEG").data).quantization[0])
    assert JPEG_QUALITY == 95
    assert sorted(luma) == sorted(_ijg_table(95)) != sorted(_ijg_table(75))  # the order: zigzag or not
    webp = io.BytesIO()
    image.save(webp, "WEBP")
    assert encode(image, "WEBP").data == webp.getvalue()


def _png_bytes(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB").save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("size", "resize", "want"), [
    ((64, 32), 16, (32, 16)), ((32, 64), 16, (16, 32)),  # the shorter side, either way round
    ((10, 20), 1, (1, 2)), ((20, 10), 1, (2, 1)),  # down to one pixel, not two
    ((40, 30), 45, (40, 30)), ((40, 30), 30, (40, 30)), ((40, 30), None, (40, 30)),  # never enlarged
])
def test_reencode_brings_the_shorter_side_down_only(size: tuple[int, int], resize: int | None,
                                                   want: tuple[int, int]) -> None:
    encoded = reencode(_png_bytes(*size), resize)
    assert encoded.size == want == _opened(encoded.data).size


def test_reencode_resizes_with_lanczos() -> None:
    data = _png_bytes(64, 48)
    want = Image.open(io.BytesIO(data)).resize((32, 24), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(_opened(reencode(data, 24).data)), np.asarray(want))


def test_reencode_store_bytes_and_store_file_apply_the_limits_they_are_given(tmp_path) -> None:
    data = _png_bytes(16, 16)  # 256 pixels, a few hundred bytes
    small = Limits(max_pixels=100)
    with pytest.raises(ImageError):
        reencode(data, None, small)
    assert not store_bytes(data, tmp_path, small)[0].ok
    path = tmp_path / "a.png"
    path.write_bytes(data)
    assert not store_file(path, tmp_path, small)[0].ok  # the pixel limit reaches the decoder
    assert not store_file(path, tmp_path, Limits(max_bytes=len(data) - 1))[0].ok  # the byte limit, the read
    assert store_file(path, tmp_path, Limits(max_bytes=len(data)))[0].ok
    assert not list(tmp_path.glob("images/*/*"))[1:]  # one stored file at most: the last, accepted one


def _bytes_read() -> int:
    """What this process has read through read() calls so far (Linux's /proc/self/io rchar)."""
    with open("/proc/self/io", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("rchar:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="counts reads with Linux's /proc/self/io")
def test_a_file_over_the_byte_limit_is_refused_without_being_read(tmp_path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: 64 MiB that take no disk
    before = _bytes_read()
    info, stored = store_file(big, tmp_path, Limits(max_bytes=1000))
    assert (info.ok, stored) == (False, None) and info.status == schema.TOO_LARGE
    assert _bytes_read() - before < 1024 * 1024  # told by its size, not read into memory
