"""Crafted local state beside a manifest (lineage log, sidecar ``meta.json``, archive) gives a line and
an exit code or is skipped, never a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import manifests
from curate import cli
from manifests import Archive, archive_path, log_path, schema
from manifests.groups import meta_path


def _manifest(tmp_path: Path) -> Path:
    manifest = tmp_path / "manifest.csv"
    with manifests.update(manifest, command="test") as tx:
        tx.frame = manifests.from_records([{schema.SHA256: "a" * 64, schema.PATH: "x.jpg",
                                            schema.LABEL: "cat", schema.STATUS: schema.OK}])
    return manifest


def test_lineage_lines_that_are_not_objects_are_skipped(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    with log_path(manifest).open("ab") as fh:
        fh.write(b'[1, 2]\n"text"\n{"command": "caf\xe9"}\n' + b"[" * 100_000 + b"\n")
    entries = manifests.lineage_entries(manifest)
    assert [e["command"] for e in entries] == ["test"]


def test_a_deep_or_undecodable_meta_json_is_one_line(tmp_path: Path, capsys) -> None:
    manifest = _manifest(tmp_path)
    for body in (b"[" * 100_000, b'{"groups": {"caf\xe9": "x"}}'):
        meta_path(manifest).write_bytes(body)
        with pytest.raises(SystemExit) as exc:
            cli.main(["stats", str(manifest)])
        err = capsys.readouterr().err
        assert exc.value.code == 4 and "Traceback" not in err and str(meta_path(manifest)) in err


def test_archive_info_that_is_not_a_json_object_is_empty(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    archive = Archive(manifest)
    archive.add("frames", "/v/a.mkv", "s", {"size": 1})
    with sqlite3.connect(archive_path(manifest)) as db:
        db.execute("INSERT INTO done (collector, key, variant, info) VALUES ('frames', '/v/b.mkv', 's', "
                   "'not json'), ('frames', '/v/c.mkv', 's', '[1]'), ('frames', '/v/d.mkv', 's', ?)",
                   ("[" * 100_000,))
    assert archive.entries("frames") == {"/v/a.mkv": {"size": 1}, "/v/b.mkv": {}, "/v/c.mkv": {},
                                         "/v/d.mkv": {}}
    assert json.loads(json.dumps(archive.entries("frames", "s")))
