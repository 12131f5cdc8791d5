"""Partitioned Parquet manifests: same rows as a single file, incremental writes, atomic commits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import manifests
from manifests import Appender, ManifestError, schema
from manifests.partitioned import INDEX
from tests.fixtures.kill import Writers


def rows(start: int, n: int) -> list[dict]:
    return [{schema.SHA256: f"{i:064x}"[::-1], schema.PATH: f"images/{i}.jpg", schema.LABEL: f"c{i % 3}",
             schema.STATUS: schema.OK, schema.WIDTH: 10 + i, "street": f"s{i % 5}"}
            for i in range(start, start + n)]


def test_round_trip_equals_the_single_file(tmp_path: Path) -> None:
    failed = {schema.SOURCE: "reddit", schema.ORIGIN: "https://x/1", schema.STATUS: "http_error",
              schema.ERROR: "404"}
    frame = manifests.from_records([*rows(0, 500), failed])
    manifests.write(frame, tmp_path / "one.parquet")
    manifests.write(frame, tmp_path / "m.parquet", partitioned=True)
    assert (tmp_path / "m.parquet").is_dir() and (tmp_path / "m.parquet" / INDEX).is_file()
    single = manifests.read(tmp_path / "one.parquet").sort_values(schema.SHA256).reset_index(drop=True)
    parted = manifests.read(tmp_path / "m.parquet").sort_values(schema.SHA256).reset_index(drop=True)
    pd.testing.assert_frame_equal(single, parted)


def test_a_write_rewrites_only_changed_buckets(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    path.mkdir()
    with Appender(path) as sink:
        for row in rows(0, 400):
            sink.add(row)
    before = {p.name: p.stat().st_mtime_ns for p in path.glob("part-*.parquet")}
    with Appender(path) as sink:
        sink.add(rows(400, 1)[0])
    after = {p.name for p in path.glob("part-*.parquet")}
    assert len(manifests.read(path)) == 401
    assert len(after - set(before)) == 1 and len(set(before) - after) == 1  # one bucket replaced
    assert len(after) == len(before)


def test_stray_parts_are_never_read_and_are_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    manifests.write(manifests.from_records(rows(0, 50)), path, partitioned=True)
    pd.DataFrame({schema.SHA256: ["f" * 64]}).to_parquet(path / "part-9-deadbeef.parquet")
    assert len(manifests.read(path)) == 50
    manifests.write(manifests.read(path), path)
    assert not (path / "part-9-deadbeef.parquet").exists()


def test_a_damaged_part_list_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    manifests.write(manifests.from_records(rows(0, 5)), path, partitioned=True)
    (path / INDEX).write_text("{not json")
    with pytest.raises(ManifestError, match=r"_manifest\.json is damaged"):
        manifests.read(path)


SETUP = """
import manifests
from tests.manifests.test_partitioned import rows
path = args[0]
"""
WRITE = """
n = 0
while True:
    manifests.write(manifests.from_records(rows(0, 200 + n % 7)), path)
    print(n, flush=True); n += 1
"""


@pytest.mark.slow
def test_kill_during_writes_leaves_a_whole_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    manifests.write(manifests.from_records(rows(0, 200)), path, partitioned=True)
    with Writers(SETUP, WRITE, str(path), env={**os.environ, "PYTHONPATH": str(Path.cwd())}) as writers:
        for attempt in range(6):  # each a fresh process, killed after 2 to 7 whole writes
            pid = writers.start()
            for _ in range(2 + attempt):
                writers.line()
            writers.kill(pid)
            frame = manifests.read(path)
            assert 200 <= len(frame) <= 206 and frame[schema.SHA256].is_unique
            assert json.loads((path / INDEX).read_text())["version"] == 1


def test_a_killed_writes_temporary_files_are_removed_by_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    manifests.write(manifests.from_records(rows(0, 50)), path, partitioned=True)
    left = [path / ".part-3-0123456789abcdef.parquet.k2j3h4.tmp", path / f".{INDEX}.x8y9.tmp"]
    for stray in left:  # what a SIGKILL inside _atomic leaves
        stray.write_bytes(b"half a parquet file")
    manifests.write(manifests.from_records(rows(0, 51)), path, partitioned=True)
    assert not [p for p in left if p.exists()]
    assert len(manifests.read(path)) == 51


def test_a_reader_sees_the_old_or_the_new_state_while_a_writer_replaces_parts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from manifests import partitioned

    path = tmp_path / "m.parquet"
    manifests.write(manifests.from_records(rows(0, 200)), path, partitioned=True)
    new = manifests.from_records([{**r, schema.LABEL: "changed"} for r in rows(0, 200)])
    real = pd.read_parquet
    calls = []

    def racing_read(*args: object, **kwargs: object) -> pd.DataFrame:
        calls.append(args)
        if len(calls) == 1:  # a writer commits and deletes the old parts while the read goes on
            monkeypatch.setattr(partitioned.pd, "read_parquet", real)
            manifests.write(new, path, partitioned=True)
        return real(*args, **kwargs)

    monkeypatch.setattr(partitioned.pd, "read_parquet", racing_read)
    got = manifests.read(path)
    assert len(got) == 200 and set(got[schema.LABEL]) == {"changed"}
