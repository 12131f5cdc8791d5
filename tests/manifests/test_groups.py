"""Group columns as the manifest's own metadata: sidecar, Parquet key-value metadata, legacy manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import manifests
from manifests import Appender, ManifestError, groups, schema


def _rows(**extra: object) -> list[dict]:
    return [{schema.SHA256: f"{i:064x}", schema.PATH: f"{i}.png", schema.LABEL: "a", schema.STATUS: schema.OK,
             **{k: f"{v}{i % 2}" for k, v in extra.items()}} for i in range(4)]


def test_declared_columns_live_in_a_sidecar_not_the_lineage_log(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    manifests.write(manifests.from_records(_rows(site="s", stage="g")), path)
    assert manifests.group_columns(path) == ()  # site and stage are not groups until declared
    manifests.declare_groups(path, ["stage", "site"], by="test")
    manifests.declare_groups(path, ["site"], by="again")  # declaring twice keeps the first
    meta = json.loads(groups.meta_path(path).read_text())
    assert meta == {"group_columns": {"stage": "test", "site": "test"}}
    assert manifests.group_columns(path) == ("stage", "site")
    assert manifests.group_columns(manifests.read(path)) == ("stage", "site")  # the frame knows too
    assert manifests.lineage_entries(path) == []
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


def test_legacy_manifest_answers_with_the_columns_collectors_wrote(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    manifests.write(manifests.from_records(_rows(street="ttc", site="s")), path)
    assert manifests.group_columns(path) == ("street",)
    manifests.declare_groups(path, ["site"], by="test")
    assert manifests.group_columns(path) == ("street", "site")  # the first record keeps street


def test_parquet_manifest_carries_the_metadata_itself(tmp_path: Path) -> None:
    path = tmp_path / "manifest.parquet"
    with Appender(path) as sink:
        sink.declare_groups(["character"], "test")
        for row in _rows(character="c"):
            sink.add(row)
    raw = pq.read_schema(path).metadata[groups.PARQUET_KEY]
    assert json.loads(raw) == {"group_columns": {"character": "test"}}
    groups.meta_path(path).unlink()  # a Parquet file copied alone keeps its group columns
    assert manifests.group_columns(path) == ("character",)


def test_update_to_another_file_copies_and_adds(tmp_path: Path) -> None:
    path, other = tmp_path / "m.csv", tmp_path / "out" / "m2.csv"
    manifests.write(manifests.from_records(_rows(site="s", stage="g")), path)
    manifests.declare_groups(path, ["site"], by="test")
    with manifests.update(path, output=other) as tx:
        tx.declare_groups(["stage"], "curate split --group-by")
        tx.frame[schema.WEIGHT] = 1.0
    assert manifests.group_columns(other) == ("site", "stage")
    assert manifests.group_columns(path) == ("site",)  # the input is untouched
    with manifests.update(path, dry_run=True) as tx:
        tx.declare_groups(["stage"], "dry")
    assert manifests.group_columns(path) == ("site",)


def test_appender_records_groups_even_when_no_row_is_new(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    manifests.write(manifests.from_records(_rows(site="s")), path)
    with Appender(path) as sink:
        sink.declare_groups(["site"], "harvest folder")
    assert manifests.group_columns(path) == ("site",)


def test_broken_sidecar_is_a_one_line_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    manifests.write(manifests.from_records(_rows()), path)
    groups.meta_path(path).write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        manifests.read(path)


def test_declaring_on_a_parquet_manifest_updates_its_own_copy(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    manifests.write(manifests.from_records(_rows(stage="g")), path)
    before = manifests.read(path)
    manifests.declare_groups(path, ["stage"], by="test")
    groups.meta_path(path).unlink()
    assert manifests.group_columns(path) == ("stage",)
    assert manifests.read(path).equals(before)  # the rows are as they were
