"""``curate report``: every section for a fixture manifest, thumbnails inlined and cached, and the
page rendered by a real headless Chromium into a screenshot that is not blank."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from curate import cli
from curate.report import ReportOptions, split_deviation, write_report
from curate.tables import crosstab
from tests.curate.conftest import Dataset
from tests.fixtures.chromium import find_chromium, run_chromium

SECTIONS = ("counts", "groups", "splits", "sources", "sizes", "samples", "duplicates", "failed",
            "issues", "leaks", "attribution", "lineage")


def section(page: str, name: str) -> str:
    found = re.search(rf"<section id='{name}'>(.*?)</section>", page, re.S)
    assert found, f"no section {name}"
    return found.group(1)


@pytest.fixture
def page(dataset: Dataset) -> str:
    result = write_report(dataset.manifest, dataset.root / "report.html", ReportOptions(top=2))
    assert result.sections == list(SECTIONS) and result.thumbnails_missing == 0
    return (dataset.root / "report.html").read_text()


def test_every_section_shows_the_fixture(page: str) -> None:
    counts = section(page, "counts")
    assert "sea/horse" in counts and "33 rows, 30 ok, 3 labels" in counts
    groups = section(page, "groups")
    assert "label x street" in groups and "label x creator" in groups
    # top=2: the two largest streets in numeric order, the third summed as "other (1)"
    street = groups[groups.index("label x street"):groups.index("label x creator")]
    assert re.search(r"<th>2</th><th>10</th><th>other \(1\)</th>", street)
    splits = section(page, "splits")
    assert all(s in splits for s in ("train", "val", "test")) and "Largest deviation" in splits
    assert "search:openverse" in section(page, "sources")
    assert section(page, "sizes").count("<svg") == 2
    samples = section(page, "samples")
    assert samples.count("<img") == 30  # 10 per class over 3 splits: all of them, per_cell 6
    dupes = section(page, "duplicates")
    assert "mixed labels" in dupes and "distance 3" in dupes and "1 cluster;" in dupes
    failed = section(page, "failed")
    assert "corrupt" in failed and "image data is garbage" in failed and "404 Not Found" in failed
    issues = section(page, "issues")
    assert "3 rows flagged" in issues and "quality 0.05" in issues
    assert "street" in section(page, "leaks")  # streets were split row by row: a leak
    attribution = section(page, "attribution")
    assert "by-sa 4.0" in attribution and "artist3" in attribution
    assert "<a href='https://example.org/p/0'>" in attribution
    assert "ignored header: X-Robots-Tag noai (response header)" in attribution
    assert "harvest folder src" in section(page, "lineage")


def test_page_is_self_contained(page: str) -> None:
    sources = re.findall(r"src='([^']*)'", page)
    assert sources and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert "<script" not in page and "<link" not in page and "url(" not in page


def test_thumbnails_are_cached_beside_the_manifest(dataset: Dataset) -> None:
    write_report(dataset.manifest, dataset.root / "a.html", ReportOptions())
    cached = list((dataset.root / ".cache" / "thumbs" / "128").rglob("*.jpg"))
    assert len(cached) == 31  # 30 ok images + the duplicate
    for image in (dataset.root / "images").iterdir():  # from the cache: the images are not read again
        image.unlink()
    result = write_report(dataset.manifest, dataset.root / "b.html", ReportOptions())
    assert result.thumbnails == 31 and result.thumbnails_missing == 0
    result = write_report(dataset.manifest, dataset.root / "c.html", ReportOptions(cache=False))
    assert result.thumbnails == 0 and "no image" in (dataset.root / "c.html").read_text()


def test_contact_sheet_is_seeded(dataset: Dataset) -> None:
    def shown(seed: int) -> list[str]:
        write_report(dataset.manifest, dataset.root / "s.html", ReportOptions(per_cell=1, seed=seed))
        return re.findall(r"<figcaption>(.*?)</figcaption>", section(
            (dataset.root / "s.html").read_text(), "samples"))

    first = shown(1)
    assert shown(1) == first and len(first) == 9  # one per class and split
    assert any(shown(s) != first for s in range(2, 6))


def test_split_deviation_names_the_worst_cell() -> None:
    import pandas as pd

    frame = pd.DataFrame({"label": ["a"] * 8 + ["b"] * 2 + ["b"] * 10,
                          "split": ["train"] * 8 + ["val"] * 2 + ["train"] * 10})
    worst, label, split = split_deviation(crosstab(frame, ["label"], "split"))
    # overall 90/10; class a is 100/0 (0.10 off in both splits), class b 83/17 (0.067 off)
    assert (round(worst, 3), label) == (0.1, "a") and split in ("train", "val")


@pytest.mark.slow
def test_report_renders_in_headless_chromium(dataset: Dataset, page: str, tmp_path: Path) -> None:
    from PIL import Image

    browser = find_chromium()
    shot = tmp_path / "shot.png"
    _, err = run_chromium(browser, [f"--screenshot={shot}", "--window-size=1200,2000",
                                    (dataset.root / "report.html").as_uri()], tmp_path)
    assert shot.exists(), f"chromium wrote no screenshot: {err[-500:]}"
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1200)
    assert pixels.std() > 20  # text, tables and thumbnails; a blank page is one colour
    assert len(np.unique(pixels)) > 50


def test_report_cli_default_manifest_and_json(dataset: Dataset, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(dataset.root)
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", "--json", "--seed", "2"])
    assert exc.value.code == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["sections"] == list(SECTIONS)
    assert "manifest: manifest.csv" in captured.err and (dataset.root / "report.html").exists()
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", "missing.csv"])
    assert exc.value.code == 4 and "missing.csv does not exist" in capsys.readouterr().err


def test_odd_manifests_report_without_error(tmp_path: Path) -> None:
    import manifests
    from manifests import schema

    failed_only = tmp_path / "failed.csv"
    manifests.write(manifests.from_records([{schema.SOURCE: "x", schema.ORIGIN: "u",
                                             schema.STATUS: schema.CORRUPT, schema.ERROR: "bad"}]),
                    failed_only)
    result = write_report(failed_only, tmp_path / "f.html", ReportOptions())
    assert (result.rows, result.ok) == (1, 0) and "bad" in (tmp_path / "f.html").read_text()
    vanished = tmp_path / "gone.csv"
    manifests.write(manifests.from_records([{schema.SHA256: "ab" * 32, schema.PATH: "gone.jpg",
                                             schema.LABEL: "a", schema.STATUS: schema.OK}]), vanished)
    result = write_report(vanished, tmp_path / "g.html", ReportOptions())
    assert result.thumbnails_missing == 1 and "no image" in (tmp_path / "g.html").read_text()
    foreign = tmp_path / "junk.csv"
    foreign.write_text("hello,world\n1,2\n")  # not a manifest: refused in one line (issue 11)
    with pytest.raises(manifests.ManifestError, match="not a gleanset manifest"):
        write_report(foreign, tmp_path / "j.html", ReportOptions())
