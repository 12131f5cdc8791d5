"""The dataset card and croissant.json of an export of the demo's four sources (folder, frames,
reddit, search): every number on the card recomputed from the manifest with pandas, the Croissant file
loaded by mlcroissant (the reference library) with the export's records per split, the export read
back by Hugging Face ``datasets`` through the card's ``configs``, and the licence filter."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

import manifests
from manifests import schema
from tests.curate.card.conftest import Demo, run

SPLIT_DIRS = {"train": "train", "val": "validation", "test": "test"}
NO_LICENCE = "no licence recorded"


def export(demo: Demo, out: Path, *args: str) -> None:
    from curate.cli import main as curate

    run(curate, ["export", str(demo.manifest), str(out), "--format", "hf", *args])


@pytest.fixture(scope="module")
def exported(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "hf"
    export(demo, out)
    return out


def expected_rows(demo: Demo) -> pd.DataFrame:
    frame = manifests.read(demo.manifest)
    return frame[(frame[schema.STATUS] == "ok") & frame[schema.SPLIT].notna()]


def md_table(text: str, heading: str) -> dict[str, list[str]]:
    """The Markdown table under ``heading``: first cell -> the other cells (escapes removed)."""
    lines = text.split(heading + "\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    out = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip().replace("\\", "") for c in line.strip("|").split(" | ")]
        out[cells[0]] = cells[1:]
    return out


def counts(rows: pd.DataFrame, column: str) -> dict[str, list[str]]:
    """The card's table for ``column`` x split, computed here: one row per value, then 'all'."""
    table = pd.crosstab(rows[column].astype(str), rows[schema.SPLIT].astype(str))
    table = table.reindex(columns=["train", "val", "test"], fill_value=0)
    table["all"] = table.sum(axis=1)
    table.loc["all"] = table.sum(axis=0)
    return {str(k): [str(int(v)) for v in row] for k, row in table.iterrows()}


def test_every_number_on_the_card_matches_the_manifest(demo: Demo, exported: Path) -> None:
    text = (exported / "README.md").read_text(encoding="utf-8")
    frame, rows = manifests.read(demo.manifest), expected_rows(demo)
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["task_categories"] == ["image-classification"] and meta["size_categories"] == ["n<1K"]
    assert meta["license"] == "other" and "no licence recorded" in meta["license_name"]
    split_counts = rows[schema.SPLIT].value_counts()
    assert f"of {len(rows)} images in {rows[schema.LABEL].nunique()} classes" in text
    assert (f"split {split_counts['train']} train / {split_counts['val']} val / {split_counts['test']} test"
            in text)
    assert md_table(text, "### Per class and split") == counts(rows, schema.LABEL)
    groups = [*manifests.group_columns(demo.manifest), schema.SUBREDDIT]
    assert {"street", schema.SCENE, schema.AUTHOR, schema.CREATOR} <= set(groups)
    for column in groups:
        known = rows[rows[column].notna()]
        shown = column.replace("_", "\\_")  # Markdown-escaped, as the card writes it
        heading = f"### Per {shown} ({known[column].nunique()} values)"
        assert md_table(text, heading) == counts(rows.fillna({column: "(missing)"}), column)
    status = frame[schema.STATUS]
    assert md_table(text, "- Rows not used, by status:") == {
        k: [str(v)] for k, v in status[status != "ok"].value_counts().items()}
    assert f"Near-duplicates: {int((status == 'duplicate').sum())} rows marked" in text
    licences = rows[schema.LICENSE].fillna(NO_LICENCE).value_counts()
    assert md_table(text, "## Licences") == {k: [str(v)] for k, v in licences.sort_index().items()}
    per_source = rows[schema.SOURCE].str.replace(r"^search:.*", "search", regex=True).value_counts()
    for kind, n in per_source.items():
        assert f"### {kind} ({n} images)" in text
    own = int(per_source.get("folder", 0) + per_source.get("frames", 0))
    assert f"- {own} images without a licence come from the publisher's own" in text
    assert f"- {per_source['reddit']} images from reddit carry no licence" in text
    sizes = rows[schema.LABEL].value_counts()
    assert f"The largest class has {sizes.max() / sizes.min():.1f} times" in text
    top = rows[schema.SOURCE].value_counts()
    assert f"from one source is {top.iloc[0] / len(rows):.0%} \\({top.index[0]}\\)" in text
    table = pd.crosstab(rows[schema.LABEL], rows[schema.SPLIT])[["train", "val", "test"]]
    diff = (table.div(table.sum(axis=1), axis=0) - table.sum(axis=0) / table.to_numpy().sum()).abs()
    label, split = diff.stack().idxmax()
    assert f"is {diff.loc[label, split]:.1%} ({label} in {split})" in text
    assert "Non-commercial licences: 0.0% of the images; no-derivatives licences: 0.0%" in text
    assert "[ATTRIBUTION.md](ATTRIBUTION.md)" in text and (exported / "ATTRIBUTION.md").exists()


def test_the_sources_come_from_the_lineage_log_and_the_rows(exported: Path) -> None:
    text = (exported / "README.md").read_text(encoding="utf-8")
    assert "asked for after 2020-07-01, before 2020-08-01, top 1000" in text
    assert re.search(r"r/Doom: \d+ images from \d+ posts, posted 2020-07-\d\d to 2020-07-\d\d", text)
    assert re.search(r"query 'castle fanart' on openverse: \d+ images, results ranked 1 to \d+ taken", text)
    assert re.search(r"video castle.mp4: \d+ frames exported from \d+ scenes, sampled every=6", text)
    assert "{street}/cog\\_{suit}" in text and "harvest folder " in text


def test_mlcroissant_loads_every_record_set_with_the_exports_records(demo: Demo, exported: Path) -> None:
    mlc = pytest.importorskip("mlcroissant", reason="mlcroissant is in the dev extra")
    doc = json.loads((exported / "croissant.json").read_text(encoding="utf-8"))
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    for key in ("dataCollection", "dataCollectionType", "dataCollectionTimeframe", "dataAnnotationProtocol",
                "dataPreprocessingProtocol", "personalSensitiveInformation", "dataBiases",
                "dataLimitations", "dataUseCases", "dataReleaseMaintenancePlan"):
        assert doc[f"rai:{key}"], key
    assert "Reddit user names" in " ".join(doc["rai:personalSensitiveInformation"])
    assert "Left for the publisher" in doc["rai:dataReleaseMaintenancePlan"]
    for item in doc["distribution"]:
        if item["@type"] == "cr:FileObject":
            data = (exported / item["contentUrl"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == item["sha256"], item["contentUrl"]
    sizes = expected_rows(demo).set_index(schema.SHA256)[[schema.WIDTH, schema.HEIGHT]]
    dataset = mlc.Dataset(jsonld=str(exported / "croissant.json"))
    assert sorted(r.uuid for r in dataset.metadata.record_sets) == sorted(SPLIT_DIRS.values())
    for split, folder in SPLIT_DIRS.items():
        lines = (exported / folder / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
        want = {(f"{folder}/{r['file_name']}", r["label"], r.get("street", ""), r.get("author", ""))
                for r in map(json.loads, lines)}
        got = set()
        for record in dataset.records(record_set=folder):
            text = {k.split("/", 1)[1]: v.decode() if isinstance(v, bytes) else v
                    for k, v in record.items()}
            assert text["split"] == split
            image, sha = text["image"], text["sha256"]
            assert (image.width, image.height) == tuple(sizes.loc[sha])  # the content, decoded
            got.add((text["file"], text["label"], text.get("street") or "", text.get("author") or ""))
        assert got == want and len(got) == len(lines)


def test_hf_datasets_reads_the_export_through_the_cards_configs(demo: Demo, exported: Path,
                                                                 tmp_path: Path, monkeypatch) -> None:
    datasets = pytest.importorskip("datasets", reason="datasets is in the dev extra")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    meta = yaml.safe_load((exported / "README.md").read_text(encoding="utf-8").split("---\n")[1])
    assert meta["configs"][0]["data_files"] == [{"split": s, "path": f"{s}/**"}
                                               for s in ("train", "validation", "test")]
    loaded = datasets.load_dataset(str(exported), cache_dir=str(tmp_path / "cache"))
    rows = expected_rows(demo)
    for split, folder in SPLIT_DIRS.items():
        part = rows[rows[schema.SPLIT] == split]
        assert sorted(loaded[folder]["label"]) == sorted(part[schema.LABEL].tolist())
