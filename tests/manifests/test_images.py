"""The one image opener: sniffing, verification, reduced decoding, orientation, modes and failure statuses."""

from __future__ import annotations

import threading
import warnings
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from manifests import images, schema
from tests.fixtures import media


@pytest.mark.parametrize(("data", "kind"), [
    (media.jpeg(), "jpeg"), (media.png(), "png"), (media.animated_gif(), "gif"),
    (media.encode(media.photo(), "WEBP"), "webp"), (media.html_page(), "html"),
    (b"  <svg xmlns='http://www.w3.org/2000/svg'></svg>", "svg"), (b"<?xml version='1.0'?><feed/>", "xml"),
    (b'{"error": "gone"}', "json"), (b"%PDF-1.7 ...", "pdf"), (b"PK\x03\x04rest", "zip"),
    (b"\x00\x00\x00\x18ftypmp42rest", "mp4"), (b"\x00\x00\x00\x18ftypavifrest", "avif"),
    (b"plain words", None),
])
def test_sniff_names_the_real_type(data: bytes, kind: str | None) -> None:
    assert images.sniff(data) == kind


def test_fetcher_and_store_share_the_sniffer() -> None:
    from harvest import fetch

    assert fetch.sniff is images.sniff
    info = images.inspect_bytes(media.html_page())
    assert (info.status, images.sniff(media.html_page())) == (schema.NOT_IMAGE, "html")


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    return media.write(tmp_path / name, data)


@pytest.mark.parametrize(("name", "data", "status"), [
    ("page.jpg", media.html_page(), schema.NOT_IMAGE),
    ("notes.png", b"just some text, saved with the wrong name\n", schema.NOT_IMAGE),
    ("logo.png", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", schema.UNSUPPORTED),
    ("cut.png", media.truncated_png(), schema.TRUNCATED),
    ("bad.jpg", media.corrupt_jpeg(), None),
])
def test_decode_and_verify_name_one_status(tmp_path: Path, name: str, data: bytes,
                                           status: str | None) -> None:
    path = _file(tmp_path, name, data)
    verified = images.inspect_file(path)
    assert not verified.ok
    with pytest.raises(images.ImageError) as raised:
        images.decode(path)
    assert raised.value.status == verified.status  # the same failure gets the same name everywhere
    if status:
        assert verified.status == status


def test_missing_file_and_bomb_have_named_statuses(tmp_path: Path) -> None:
    with pytest.raises(images.ImageError) as missing:
        images.decode(tmp_path / "gone.png")
    assert missing.value.status == schema.UNREADABLE and "not found" in missing.value.error
    path = _file(tmp_path, "big.png", media.png(size=(200, 100)))
    with pytest.raises(images.ImageError) as bomb:
        images.decode(path, limits=images.Limits(max_pixels=10_000))
    assert bomb.value.status == schema.TOO_LARGE
    assert images.inspect_file(path, images.Limits(max_pixels=10_000)).status == schema.TOO_LARGE


def test_reduced_decoding_keeps_min_side(tmp_path: Path) -> None:
    path = _file(tmp_path, "wide.jpg", media.jpeg(size=(1280, 720)))
    small = images.decode(path, min_side=90, mode="L")
    assert small.full_size == (1280, 720) and small.image.mode == "L"
    assert 90 <= min(small.image.size) <= 180  # JPEG decoded at 1/4, not at full size
    png = _file(tmp_path, "wide.png", media.png(size=(640, 360)))
    plain = images.decode(png, min_side=90)
    reduced = images.decode(png, min_side=90, reduce=True)
    assert plain.image.size == (640, 360) and 90 <= min(reduced.image.size) < 180


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[images.ORIENTATION] = 6  # "rotate 90 clockwise to view"
    buf = BytesIO()
    media.photo(64, 32).save(buf, "JPEG", exif=exif)
    path = _file(tmp_path, "phone.jpg", buf.getvalue())
    upright = images.decode(path)
    assert upright.image.size == (32, 64) and upright.full_size == (32, 64)
    assert images.decode(path, orient=False).image.size == (64, 32)


def test_mode_conversion_without_warnings(tmp_path: Path) -> None:
    img = Image.new("P", (16, 16))
    img.info["transparency"] = 0
    buf = BytesIO()
    img.save(buf, "PNG", transparency=0)
    path = _file(tmp_path, "palette.png", buf.getvalue())
    cmyk = _file(tmp_path, "cmyk.jpg", media.cmyk_jpeg())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert images.decode(path).image.mode == "RGB"
        assert images.decode(cmyk, mode="L").image.mode == "L"


def test_worker_threads_never_toggle_warning_filters(tmp_path: Path) -> None:
    paths = [_file(tmp_path, f"{i}.jpg", media.jpeg(i)) for i in range(4)]
    images.decode(paths[0])
    images.inspect_file(paths[0])
    before = list(warnings.filters)
    seen: list[bool] = []

    def work() -> None:
        for path in paths * 5:
            images.decode(path, min_side=8)
            images.inspect_file(path)
            seen.append(warnings.filters == before)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 80 and all(seen) and warnings.filters == before


def test_one_suffix_list_covers_avif_and_heic() -> None:
    from harvest import folder
    from train import predict

    assert folder.is_image_name is predict.is_image_name is images.is_image_name
    assert {".avif", ".heic", ".heif", ".jpg", ".png", ".webp", ".svg"} <= images.image_suffixes()
    assert images.is_image_name("shots/A.AVIF") and not images.is_image_name("notes.txt")
