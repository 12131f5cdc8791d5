"""The group columns an ``update`` records, pinned down so that the mutants ``make mutate`` made of
``manifests/update.py``'s ``_commit_groups``, ``_record_groups``, ``declare_groups`` and
``rebase_paths`` fail.

What a user sees is the oracle: the sidecar file (read as JSON), ``group_columns``, the lineage log
and whether the manifest file was rewritten at all (a rewrite is a new file renamed over the old one:
a new inode, so ``(st_ino, st_mtime_ns)`` changes even when the bytes would not).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq

import manifests
from manifests import schema
from manifests.groups import meta_path


def _rows(n: int = 4, **extra: str) -> list[dict[str, object]]:
    return [{schema.SHA256: f"{i:064x}", schema.PATH: f"{i}.png", schema.LABEL: "a", schema.STATUS: schema.OK,
             schema.SOURCE: "folder", schema.ORIGIN: f"/shots/{i}.png",
             **{k: f"{v}{i % 2}" for k, v in extra.items()}} for i in range(n)]


def _write(path: Path, n: int = 4, **extra: str) -> None:
    manifests.write(manifests.from_records(_rows(n, **extra)), path)


def _sidecar(path: Path) -> dict:
    return json.loads(meta_path(path).read_text(encoding="utf-8"))


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_an_update_records_the_groups_its_block_declares_and_keeps_legacy_ones(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    _write(path, street="s", site="x")  # written before group columns were recorded: street is legacy
    with manifests.update(path) as tx:
        tx.declare_groups(["site"], "curate split --group-by")
    assert _sidecar(path) == {"group_columns": {"street": "legacy", "site": "curate split --group-by"}}
    assert manifests.group_columns(path) == ("street", "site")
    assert manifests.lineage_entries(path) == []  # no row changed: nothing to log, the CSV stays


def test_an_update_that_declares_and_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    for name in ("m.csv", "m.parquet"):
        path = tmp_path / name
        _write(path, street="s")
        before = _identity(path)
        with manifests.update(path) as tx:
            assert len(tx.frame) == 4
        assert not meta_path(path).exists()  # no sidecar made up for a legacy manifest
        assert _identity(path) == before
        assert manifests.lineage_entries(path) == []
        assert manifests.group_columns(path) == ("street",)


def test_an_update_into_another_manifest_carries_the_sources_groups(tmp_path: Path) -> None:
    src, out = tmp_path / "m.csv", tmp_path / "out" / "m.csv"
    _write(src, site="x")
    manifests.declare_groups(src, ["site"], by="harvest folder")
    with manifests.update(src, output=out) as tx:  # declares nothing itself
        tx.frame[schema.SPLIT] = "train"
    assert _sidecar(out) == {"group_columns": {"site": "harvest folder"}}
    assert manifests.group_columns(out) == ("site",)


def test_an_update_into_an_existing_manifest_keeps_the_groups_it_recorded(tmp_path: Path) -> None:
    src, out = tmp_path / "m.csv", tmp_path / "out.csv"
    _write(src, site="x", stage="g")  # no sidecar
    _write(out, 2, stage="g")
    manifests.declare_groups(out, ["stage"], by="earlier")
    with manifests.update(src, output=out) as tx:
        tx.declare_groups(["site"], "curate split --group-by")
    assert _sidecar(out) == {"group_columns": {"stage": "earlier", "site": "curate split --group-by"}}
    assert manifests.group_columns(out) == ("stage", "site")
    assert len(manifests.read(out)) == 4


def test_the_sidecar_of_a_deleted_output_is_not_inherited(tmp_path: Path) -> None:
    src, out = tmp_path / "m.csv", tmp_path / "out.csv"
    _write(src, site="x", stage="g")
    meta_path(out).write_text(json.dumps({"group_columns": {"stage": "gone"}}))  # out.csv was deleted
    with manifests.update(src, output=out) as tx:
        tx.declare_groups(["site"], "curate split --group-by")
    assert _sidecar(out) == {"group_columns": {"site": "curate split --group-by"}}
    assert manifests.group_columns(out) == ("site",)


def test_a_second_declaration_adds_to_the_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    _write(path, site="x", stage="g")
    manifests.declare_groups(path, ["stage"], by="curate split")
    manifests.declare_groups(path, ["site"], by="harvest folder")
    assert _sidecar(path) == {"group_columns": {"stage": "curate split", "site": "harvest folder"}}


def test_declaring_on_a_csv_never_rewrites_it(tmp_path: Path) -> None:
    """A CSV another tool wrote (LF line ends, gleanset writes CRLF) stays byte for byte."""
    path = tmp_path / "m.csv"
    path.write_bytes(manifests.from_records(_rows(site="x")).to_csv(index=False, lineterminator="\n")
                     .encode())
    before = path.read_bytes()
    manifests.declare_groups(path, ["site"], by="harvest folder")  # a new declaration
    manifests.declare_groups(path, ["site"], by="again")  # nothing new
    assert path.read_bytes() == before
    assert manifests.group_columns(path) == ("site",)


def test_declaring_a_recorded_column_again_leaves_a_parquet_manifest_alone(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    _write(path, stage="g")
    manifests.declare_groups(path, ["stage"], by="curate split")
    before = _identity(path)
    manifests.declare_groups(path, ["stage"], by="again")
    with manifests.update(path) as tx:
        tx.declare_groups(["stage"], "again")
    assert _identity(path) == before
    assert manifests.lineage_entries(path) == []
    assert _sidecar(path) == {"group_columns": {"stage": "curate split"}}


def test_an_update_into_an_unchanged_parquet_output_writes_it_once(tmp_path: Path) -> None:
    src, out = tmp_path / "m.csv", tmp_path / "out.parquet"
    _write(src)  # no group columns anywhere
    with manifests.update(src, output=out) as tx:
        tx.frame[schema.SPLIT] = "train"
    before = _identity(out)
    with manifests.update(src, output=out) as tx:
        tx.frame[schema.SPLIT] = "train"  # what out already holds
    assert _identity(out) == before
    assert [e["added"] for e in manifests.lineage_entries(out)] == [4]
    assert not meta_path(out).exists()  # no empty sidecar: a later legacy column still counts
    assert pq.read_schema(out).metadata.get(b"gleanset") is None
    frame = manifests.read(out)
    frame[schema.SCENE] = "scene1"
    manifests.write(frame, out)
    assert manifests.group_columns(out) == (schema.SCENE,)


def test_an_update_into_another_folder_rebases_relative_paths_only(tmp_path: Path) -> None:
    src, out = tmp_path / "a" / "m.csv", tmp_path / "b" / "m.parquet"
    src.parent.mkdir()
    frame = manifests.from_records(_rows(3))
    absolute = str(tmp_path / "elsewhere" / "1.png")
    frame[schema.PATH] = ["images/0.png", absolute, None]
    manifests.write(frame, src)
    with manifests.update(src, output=out) as tx:
        tx.frame[schema.SPLIT] = "train"
    got = manifests.read(out)[schema.PATH]
    assert got[:2].tolist() == ["../a/images/0.png", absolute]
    assert got.isna().tolist() == [False, False, True]
