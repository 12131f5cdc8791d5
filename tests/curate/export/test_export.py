"""``curate export``: each format loads with the real loader, with the right class counts per split."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import manifests
from curate import cli
from curate.export import ExportOptions, export, safe_names
from curate.export.formats import FORMATS, exporter
from manifests import InputError, UsageError, schema
from tests.curate.conftest import Dataset

FOLDER = {"cat": "cat", "dog": "dog", "sea/horse": "sea_horse"}


def run(dataset: Dataset, out: Path, **kw: object):
    return export(manifests.read(dataset.manifest), dataset.root, out, ExportOptions(**kw))


def by_split(counts: dict[tuple[str, str], int], rename: dict[str, str] | None = None) -> dict:
    out: dict[str, Counter] = {}
    for (label, split), n in counts.items():
        out.setdefault((rename or {}).get(split, split), Counter())[label] += n
    return out


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_honours_the_contract(name: str, dataset: Dataset, tmp_path: Path) -> None:
    fmt = exporter(name)  # construction does no I/O
    assert fmt.name == name and fmt.help and f"--format {name}" in fmt.example
    out = tmp_path / name
    report = run(dataset, out, format=name)
    assert report.rows == sum(dataset.ok_counts.values()) == report.written  # the duplicate row is out
    assert report.per_split == {s: dict(sorted(c.items())) for s, c in by_split(dataset.ok_counts).items()}
    classes = pd.read_csv(out / "classes.csv")
    assert dict(zip(classes["label"], classes["folder"], strict=True)) == FOLDER
    assert (out / "ATTRIBUTION.md").exists() and "classes.csv" in report.files
    again = run(dataset, out, format=name)  # incremental: nothing to do
    assert (again.written, again.kept, again.removed) == (0, report.rows, 0)


@pytest.mark.slow  # imports torchvision
def test_imagefolder_loads_with_torchvision_and_hard_links(dataset: Dataset, tmp_path: Path) -> None:
    from torchvision.datasets import ImageFolder

    out = tmp_path / "if"
    report = run(dataset, out)
    assert report.linked == report.rows
    for split, expected in by_split(dataset.ok_counts).items():
        data = ImageFolder(str(out / split))
        got = Counter(data.classes[t] for _, t in data.samples)
        assert got == Counter({FOLDER[k]: v for k, v in expected.items()})
    one = next((out / "train" / "cat").iterdir())
    source = [p for p in (dataset.root / "images").iterdir() if p.stat().st_ino == one.stat().st_ino]
    assert len(source) == 1  # a hard link to the dataset's own file, not a copy


def test_copy_and_resize(dataset: Dataset, tmp_path: Path) -> None:
    from PIL import Image

    copied = run(dataset, tmp_path / "c", copy=True)
    assert copied.copied == copied.rows and copied.linked == 0
    files = list((tmp_path / "c").rglob("*.jpg"))
    inodes = {p.stat().st_ino for p in (dataset.root / "images").iterdir()}
    assert files and all(f.stat().st_ino not in inodes for f in files)
    run(dataset, tmp_path / "r", resize=24)
    sizes = [Image.open(p).size for p in (tmp_path / "r").rglob("*") if p.suffix in (".jpg", ".png")]
    assert len(sizes) == copied.rows and all(min(s) == 24 for s in sizes)


def test_hf_loads_with_datasets_and_keeps_attribution(dataset: Dataset, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    out = tmp_path / "hf"
    run(dataset, out, format="hf")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out), cache_dir=str(tmp_path / "cache"))
    expected = by_split(dataset.ok_counts, {"val": "validation"})
    assert set(loaded) == set(expected)
    for split, counts in expected.items():
        assert Counter(loaded[split]["label"]) == counts
    train = loaded["train"]
    creators = {c for c in train[schema.CREATOR] if c}
    assert creators == {"artist0", "artist1", "artist2"}  # attribution survives as metadata
    assert train[0]["image"].size[0] > 0


def test_fastai_csv_contract(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "fa"
    run(dataset, out, format="fastai")
    with (out / "labels.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["fname", "label", "is_valid"]  # ImageDataLoaders.from_df's defaults
    for row in rows:
        assert (out / row["fname"]).is_file()  # fname is relative to the export folder
        assert row["label"] in FOLDER and row["is_valid"] in ("True", "False")
        assert row["fname"].split("/")[0] == ("val" if row["is_valid"] == "True" else "train")
    expected = by_split(dataset.ok_counts)
    assert Counter(r["label"] for r in rows if r["is_valid"] == "True") == expected["val"]
    assert Counter(r["label"] for r in rows if r["is_valid"] == "False") == expected["train"]
    test = pd.read_csv(out / "test.csv")
    assert list(test.columns) == ["fname", "label"] and Counter(test["label"]) == expected["test"]


def test_webdataset_shards_load_with_webdataset(dataset: Dataset, tmp_path: Path) -> None:
    import webdataset as wds

    out = tmp_path / "wds"
    run(dataset, out, format="webdataset", shard_size=4)
    classes = pd.read_csv(out / "classes.csv").sort_values("index")["label"].tolist()
    creators: set[str] = set()
    for split, expected in by_split(dataset.ok_counts).items():
        shards = sorted(str(p) for p in (out / split).glob("*.tar"))
        assert len(shards) == -(-sum(expected.values()) // 4)
        got = Counter()
        for sample in wds.WebDataset(shards, shardshuffle=False).decode("pil"):
            image = sample.get("jpg") or sample.get("png")
            assert image.size[0] > 0 and sample["json"]["split"] == split
            got[classes[sample["cls"]]] += 1
            if sample["json"].get(schema.CREATOR):  # attribution travels in each sample's .json
                creators.add(sample["json"][schema.CREATOR])
        assert got == expected
    assert creators == {f"artist{i}" for i in range(4)}


def test_attribution_survives_export(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    run(dataset, out, format="csv")
    text = (out / "ATTRIBUTION.md").read_text()
    for i in range(4):
        assert f"artist{i}" in text and f"https://example.org/p/{i}" in text
    assert "by-sa 4.0" in text and "Seahorse & friends #0" in text
    assert "| opt-out |" in text and r"ignored header: X-Robots-Tag noai \(response header\) |" in text
    table = pd.read_csv(out / "dataset.csv")
    assert table[schema.CREATOR].notna().sum() == 4 and (out / table["path"]).map(Path.is_file).all()


def test_reexport_is_incremental_and_touches_only_its_own_files(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "inc"
    first = run(dataset, out)
    mine = out / "notes.txt"
    mine.write_text("the user's own file")
    with manifests.update(dataset.manifest, command="test") as tx:  # one row leaves, one label changes
        frame = tx.frame
        gone = frame.index[frame[schema.STATUS] == schema.OK][0]
        frame.loc[gone, schema.STATUS] = schema.OVER_CAP
    second = run(dataset, out)
    assert (second.written, second.removed, second.kept) == (0, 1, first.rows - 1)
    assert mine.read_text() == "the user's own file"
    with_dupes = run(dataset, out, include=(schema.DUPLICATE, schema.OVER_CAP), unsplit="train")
    assert with_dupes.written == 2 and with_dupes.rows == first.rows + 1


def test_refuses_foreign_files_missing_splits_and_unknown_formats(dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "x"
    run(dataset, out, format="csv")
    (out / ".gleanset-export.json").unlink()  # files now look foreign: never overwritten
    with pytest.raises(InputError, match="was not written by curate export"):
        run(dataset, out, format="csv")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "labels.csv").write_text("the user's own labels")
    with pytest.raises(InputError, match=r"labels\.csv exists and was not written"):
        run(dataset, tmp_path / "w", format="fastai")
    assert (tmp_path / "w" / "labels.csv").read_text() == "the user's own labels"
    with manifests.update(dataset.manifest, command="test") as tx:
        tx.frame[schema.SPLIT] = pd.NA
    with pytest.raises(InputError, match="run `curate split` first"):
        run(dataset, tmp_path / "y")
    with pytest.raises(UsageError, match="unknown --format"):
        run(dataset, tmp_path / "z", format="tfrecord")


def test_safe_label_folder_names() -> None:
    names = safe_names(["a/b", "a_b", "CON", "..", "ok name", "x:y"])
    assert names == {"..": "_", "CON": "_CON", "a/b": "a_b", "a_b": "a_b_2", "ok name": "ok name",
                     "x:y": "x_y"}


def test_export_cli_default_manifest_and_json(dataset: Dataset, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(dataset.root)
    with pytest.raises(SystemExit) as exc:
        cli.main(["export", "out", "--format", "fastai", "--json"])
    assert exc.value.code == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["written"] == sum(dataset.ok_counts.values())
    assert "manifest: manifest.csv" in captured.err
    assert os.path.isfile(dataset.root / "out" / "labels.csv")
    with pytest.raises(SystemExit) as exc:
        cli.main(["export", "nowhere.csv", "out2"])
    assert exc.value.code == 4 and "does not exist" in capsys.readouterr().err
