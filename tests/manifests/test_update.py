"""Merging by sha256, locked read-modify-write, concurrent writers and the lineage log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import manifests
from manifests import schema


def ok(i: int, source: str = "folder", **extra) -> dict:
    return {schema.SHA256: f"{i:064x}", schema.SOURCE: source, schema.ORIGIN: f"o{i}",
            schema.STATUS: "ok", **extra}


def failed(origin: str, error: str = "boom") -> dict:
    return {schema.SOURCE: "reddit", schema.ORIGIN: origin, schema.STATUS: "http_404",
            schema.ERROR: error}


def test_merge_same_bytes_from_another_source_is_not_a_second_row() -> None:
    base = manifests.from_records([ok(1), ok(2)])
    merged, stats = manifests.merge(base, manifests.from_records([ok(2, "reddit"), ok(3), ok(3)]))
    assert list(merged[schema.SHA256]) == [f"{i:064x}" for i in (1, 2, 3)]
    assert merged[schema.SOURCE].tolist() == ["folder", "folder", "folder"]  # first seen wins
    assert (stats.added, stats.already_present) == (1, 2)


def test_merge_keeps_extra_columns_of_both_sides() -> None:
    base = manifests.from_records([ok(1, street="TTC")])
    merged, _ = manifests.merge(base, manifests.from_records([ok(2, scene="kiki:0001")]))
    assert merged["street"].tolist()[0] == "TTC" and merged[schema.SCENE].tolist()[1] == "kiki:0001"


def test_failures_are_keyed_by_origin_and_replaced_by_success() -> None:
    base = manifests.from_records([failed("u1"), failed("u2")])
    merged, stats = manifests.merge(base, manifests.from_records([failed("u1", "again")]))
    assert len(merged) == 2 and stats.already_present == 1
    success = {**ok(9, "reddit"), schema.ORIGIN: "u1"}
    merged, stats = manifests.merge(merged, manifests.from_records([success]))
    assert sorted(merged[schema.ORIGIN]) == ["u1", "u2"]
    assert merged.set_index(schema.ORIGIN).loc["u1", schema.STATUS] == "ok"
    assert stats.replaced_failures == 1


def test_update_writes_atomically_and_logs_lineage(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    manifests.write(manifests.from_records([ok(1), ok(2), ok(3)]), path)
    with manifests.update(path, command="curate split m.csv") as tx:
        tx.frame.loc[0, schema.SPLIT] = "train"
        tx.frame = tx.frame.iloc[:2]
        tx.details["seed"] = 0
    frame = manifests.read(path)
    assert len(frame) == 2 and frame[schema.SPLIT].iloc[0] == "train"
    (entry,) = manifests.lineage_entries(path)
    assert entry["command"] == "curate split m.csv"
    assert (entry["added"], entry["changed"], entry["removed"], entry["rows"]) == (0, 1, 1, 2)
    assert entry["details"] == {"seed": 0} and entry["schema_version"] == 1 and entry["version"]


def test_update_dry_run_and_failure_leave_file_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    manifests.write(manifests.from_records([ok(1)]), path)
    before = path.read_bytes()
    with manifests.update(path, dry_run=True) as tx:
        tx.frame[schema.SPLIT] = "val"
    with pytest.raises(RuntimeError), manifests.update(path) as tx:
        tx.frame[schema.SPLIT] = "val"
        raise RuntimeError("stop")
    assert path.read_bytes() == before
    assert manifests.lineage_entries(path) == []


def test_update_to_other_output_leaves_input(tmp_path: Path) -> None:
    src, out = tmp_path / "m.csv", tmp_path / "out.parquet"
    manifests.write(manifests.from_records([ok(1)]), src)
    before = src.read_bytes()
    with manifests.update(src, output=out) as tx:
        tx.frame[schema.SPLIT] = "test"
    assert src.read_bytes() == before
    assert manifests.read(out)[schema.SPLIT].tolist() == ["test"]


def test_lock_timeout_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    with (manifests.locked(path), pytest.raises(manifests.LockTimeout, match="locked"),
          manifests.locked(path, timeout=0.1)):
        pass


APPENDER = """
import sys, manifests
from manifests import schema
path, start = sys.argv[1], int(sys.argv[2])
with manifests.Appender(path, batch_size=7, interval=0, command=f"writer {start}") as sink:
    for i in range(start, start + 150):
        sink.add({schema.SHA256: f"{i:064x}", schema.STATUS: "ok", schema.SOURCE: "t"})
"""


def test_two_concurrent_writers_both_land_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(s)])
             for s in (0, 100)]  # overlapping ranges: 100..149 is written by both
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    frame = manifests.read(path)
    assert len(frame) == 250 and frame[schema.SHA256].is_unique
    entries = manifests.lineage_entries(path)
    assert {e["command"] for e in entries} == {"writer 0", "writer 100"}
    # each flush during the run logs what it merged, so the entries add up to the rows
    assert sum(e["added"] for e in entries) == 250


def test_lineage_lines_are_json(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    with manifests.Appender(path, command="harvest folder x") as sink:
        sink.add(ok(1))
    lines = manifests.log_path(path).read_text().splitlines()
    assert json.loads(lines[0])["added"] == 1


def test_appender_reads_again_only_when_another_writer_changed_the_file(tmp_path: Path,
                                                                       monkeypatch) -> None:
    from manifests import io as mio
    path = tmp_path / "m.csv"
    reads = []
    real_read = mio.read
    monkeypatch.setattr(mio, "read", lambda *a, **k: reads.append(a[0]) or real_read(*a, **k))
    sink = manifests.Appender(path, command="a")
    sink.add(ok(1))
    sink.flush()
    sink.add(ok(2))
    sink.flush()
    assert reads == [path]  # the first flush reads (no file yet); the second trusts what it wrote
    with manifests.Appender(path, command="b") as other:  # another writer lands a row
        other.add(ok(3))
    reads.clear()
    sink.add(ok(4))
    sink.close()
    assert reads == [path]  # the file changed under it: read again, so row 3 is kept
    assert sorted(manifests.read(path)[schema.ORIGIN]) == ["o1", "o2", "o3", "o4"]
