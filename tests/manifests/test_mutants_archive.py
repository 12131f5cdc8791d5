"""The archive's edges, pinned down so that the mutants ``make mutate`` made of ``manifests/archive.py``
fail: the default variant, info that JSON cannot hold as is, reads that never write, and an archive
file another process has created but not yet given its table.

The oracle is the SQLite file itself, read with the standard library's ``sqlite3`` and its bytes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from manifests.archive import Archive, archive_path


def _rows(manifest: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(archive_path(manifest)) as db:
        return db.execute("SELECT collector, key, variant, info FROM done ORDER BY rowid").fetchall()


def test_add_records_the_empty_variant_by_default(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    Archive(manifest).add("frames", "/v/a.mkv", info={"n": 1})
    assert _rows(manifest) == [("frames", "/v/a.mkv", "", '{"n": 1}')]
    assert Archive(manifest).entries("frames", "") == {"/v/a.mkv": {"n": 1}}


def test_info_json_cannot_hold_is_kept_as_text(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    when = dt.datetime(2026, 12, 7, 3, 4, 5)
    Archive(manifest).add("reddit", "https://i.redd.it/x.png", "v1", {"at": when, "path": tmp_path})
    assert Archive(manifest).entries("reddit") == {
        "https://i.redd.it/x.png": {"at": str(when), "path": str(tmp_path)}}


def test_an_archive_that_was_never_written_answers_empty(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "m.csv")
    assert (archive.entries("frames"), archive.has("frames"), archive.remove("frames", "k")) == ({}, False, 0)
    assert not archive.path.exists()


def test_a_tableless_archive_is_read_without_being_written(tmp_path: Path) -> None:
    """Another process created the file and has not yet made its table: reads say nothing is done
    and leave the file as it is; a removal removes nothing."""
    archive = Archive(tmp_path / "m.csv")
    archive.path.touch()
    assert archive.entries("frames") == {} and archive.entries("frames", "v") == {}
    assert archive.has("frames") is False
    assert archive.path.read_bytes() == b""  # a read never creates the table
    assert archive.remove("frames", "k") == 0


def test_reads_of_a_written_archive_leave_its_bytes_alone(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "m.csv")
    archive.add_many("frames", [("a", "v", {"n": 1}), ("b", "w", None)])
    before = archive.path.read_bytes()
    assert archive.entries("frames", "v") == {"a": {"n": 1}}
    assert archive.has("frames") and not archive.has("reddit")
    assert archive.path.read_bytes() == before
    assert archive.remove("frames", "a", "w") == 0 and archive.remove("frames", "a") == 1
    assert archive.entries("frames") == {"b": {}}
