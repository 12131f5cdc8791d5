"""The image store against every awkward input it must name or accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests import schema, store
from tests.fixtures import media


@pytest.mark.parametrize(("data", "status", "words"), [
    (media.corrupt_jpeg(), schema.CORRUPT, "corrupt"),
    (media.truncated_png(), schema.TRUNCATED, "truncated"),
    (media.html_page(), schema.NOT_IMAGE, "HTML"),
    (b"", schema.EMPTY, "0 bytes"),
    (media.bomb_png(), schema.TOO_LARGE, "decompression bomb"),
    (b"hello, this is text", schema.NOT_IMAGE, "text"),
    (bytes(range(256)) * 4, schema.CORRUPT, "identify"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', schema.UNSUPPORTED, "SVG"),
], ids=["corrupt-jpeg", "truncated-png", "html", "zero-bytes", "bomb", "text", "binary", "svg"])
def test_bad_bytes_are_named(data: bytes, status: str, words: str) -> None:
    info = store.inspect_bytes(data)
    assert info.status == status
    assert words.lower() in info.error.lower()
    assert "\n" not in info.error


@pytest.mark.parametrize(("data", "fmt", "size"), [
    (media.jpeg(), "jpeg", (64, 48)),
    (media.cmyk_jpeg(), "jpeg", (40, 30)),
    (media.png16(), "png", (40, 30)),
    (media.alpha_png(), "png", (40, 30)),
    (media.animated_gif(), "gif", (32, 32)),
], ids=["jpeg", "cmyk-jpeg", "png16", "alpha-png", "animated-gif"])
def test_good_images_are_measured(data: bytes, fmt: str, size: tuple[int, int]) -> None:
    info = store.inspect_bytes(data)
    assert info.ok, info.error
    assert (info.format, (info.width, info.height), info.size) == (fmt, size, len(data))
    assert len(info.sha256) == 64


def test_pixel_and_byte_limits() -> None:
    data = media.png(0, (100, 100))
    assert store.inspect_bytes(data, store.Limits(max_pixels=9_999)).status == schema.TOO_LARGE
    assert store.inspect_bytes(data, store.Limits(max_bytes=10)).status == schema.TOO_LARGE
    assert store.inspect_bytes(data, store.Limits(max_pixels=10_000)).ok


def test_broken_later_gif_frame_is_caught() -> None:
    data = media.animated_gif(6)
    assert store.inspect_bytes(data[: int(len(data) * 0.8)]).status in (schema.TRUNCATED,
                                                                         schema.CORRUPT)


def test_store_writes_by_real_format_once(tmp_path: Path) -> None:
    data = media.png(5)
    info, rel = store.store_bytes(data, tmp_path)
    assert rel == Path("images") / info.sha256[:2] / f"{info.sha256}.png"
    assert (tmp_path / rel).read_bytes() == data
    mtime = (tmp_path / rel).stat().st_mtime_ns
    info2, rel2 = store.store_bytes(data, tmp_path)
    assert (info2, rel2) == (info, rel)
    assert (tmp_path / rel).stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [rel.name]


def test_store_refuses_bad_bytes_and_writes_nothing(tmp_path: Path) -> None:
    info, rel = store.store_bytes(media.html_page(), tmp_path)
    assert rel is None and info.status == schema.NOT_IMAGE
    assert not any(tmp_path.rglob("*.*"))


def test_file_over_limit_is_not_read(tmp_path: Path) -> None:
    path = media.write(tmp_path / "big.jpg", b"\xff" * 5000)
    info = store.inspect_file(path, store.Limits(max_bytes=1000))
    assert info.status == schema.TOO_LARGE and info.sha256 is None and info.size == 5000


def test_unreadable_file(tmp_path: Path) -> None:
    info = store.inspect_file(tmp_path / "gone.jpg")
    assert info.status == schema.UNREADABLE and "cannot read" in info.error


def test_jpeg_named_png_gets_jpg_extension(tmp_path: Path) -> None:
    path = media.write(tmp_path / "actually.png", media.jpeg(3))
    info, rel = store.store_file(path, tmp_path / "ds")
    assert info.format == "jpeg" and rel.suffix == ".jpg"


def test_a_thousand_page_tiff_verifies_a_capped_number_of_pages_and_records_the_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from io import BytesIO

    from PIL import Image, TiffImagePlugin

    pages = [Image.new("L", (8, 8), i % 256) for i in range(1000)]
    buf = BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    seen: list[int] = []
    real_seek = TiffImagePlugin.TiffImageFile.seek

    def counting_seek(self, frame: int) -> None:
        seen.append(frame)
        real_seek(self, frame)

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "seek", counting_seek)
    info = store.inspect_bytes(buf.getvalue())
    assert info.ok and info.pages == 1000 and info.row()[schema.PAGES] == 1000
    assert max(seen) < store.MAX_FRAMES_VERIFIED
    assert schema.PAGES not in store.inspect_bytes(media.png(1)).row()


def test_store_encoded_measures_without_decoding_and_keeps_the_limits(tmp_path: Path) -> None:
    data = media.jpeg(7, (64, 48))
    info, rel = store.store_encoded(data, "JPEG", (64, 48), tmp_path)
    assert info.ok and rel is not None and (tmp_path / rel).read_bytes() == data
    assert (info.format, info.width, info.height) == ("jpeg", 64, 48)
    assert info.sha256 == store.inspect_bytes(data).sha256  # the same identity as verified bytes
    big, none = store.store_encoded(data, "JPEG", (64, 48), tmp_path / "b", store.Limits(max_bytes=10))
    assert big.status == schema.TOO_LARGE and none is None and not (tmp_path / "b").exists()
    huge, _ = store.store_encoded(data, "JPEG", (10_000, 10_000), tmp_path / "c",
                                  store.Limits(max_pixels=100))
    assert huge.status == schema.TOO_LARGE and not (tmp_path / "c").exists()
