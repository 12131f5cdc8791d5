"""The archive beside a manifest: records of finished inputs, written only after their rows land."""

from __future__ import annotations

from pathlib import Path

import pytest

import manifests
from manifests import Appender, Archive, ManifestError, archive_path, schema


def row(n: int) -> dict:
    return {schema.SHA256: f"{n:064x}", schema.PATH: f"images/{n}.png", schema.SOURCE: "folder",
            schema.ORIGIN: f"/src/{n}.png", schema.STATUS: schema.OK}


def test_records_by_collector_key_and_variant(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    archive = Archive(manifest)
    assert archive.path == archive_path(manifest) == tmp_path / "m.csv.archive.sqlite"
    assert not archive.exists() and archive.entries("frames") == {} and not archive.has("frames")
    assert not archive.path.exists()  # reading creates nothing
    archive.add("frames", "/v/a.mkv", "every=48", {"size": 10, "kept": 3})
    archive.add("frames", "/v/a.mkv", "every=24", {"size": 10})
    archive.add_many("reddit", [("https://i.redd.it/x.jpg", "", None), ("https://i.redd.it/y.jpg", "", None)])
    assert archive.entries("frames", "every=48") == {"/v/a.mkv": {"size": 10, "kept": 3}}
    assert set(archive.entries("frames")) == {"/v/a.mkv"} and archive.has("reddit")
    assert set(Archive(manifest).entries("reddit")) == {"https://i.redd.it/x.jpg", "https://i.redd.it/y.jpg"}
    archive.add("frames", "/v/a.mkv", "every=48", {"size": 11})  # a later record replaces the earlier
    assert archive.entries("frames", "every=48") == {"/v/a.mkv": {"size": 11}}
    assert archive.remove("frames", "/v/a.mkv", "every=24") == 1
    assert archive.entries("frames", "every=24") == {}


def test_a_mark_is_written_only_after_the_rows_before_it(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    sink = Appender(manifest, batch_size=100, interval=3600)
    sink.add(row(1))
    sink.mark("folder", "/src/1.png", "", {"n": 1})
    assert sink.archive.entries("folder") == {}  # the row is still in the buffer: no mark yet
    sink.flush()
    assert len(manifests.read(manifest)) == 1
    assert sink.archive.entries("folder") == {"/src/1.png": {"n": 1}}
    sink.mark("folder", "/src/2.png")  # nothing buffered: written by the next flush or close
    sink.close()
    assert set(Archive(manifest).entries("folder")) == {"/src/1.png", "/src/2.png"}


def test_a_damaged_archive_is_one_clear_error(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    archive_path(manifest).write_bytes(b"this is not a database" * 100)
    with pytest.raises(ManifestError, match="archive cannot be used"):
        Archive(manifest).entries("frames")
