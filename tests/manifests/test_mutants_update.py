"""The Appender's group declarations and lock wait, pinned down so that the mutants ``make mutate`` made
of ``manifests/update.py`` fail: a rerun that adds no row but declares a group column records it in
the sidecar and, for Parquet, in the file's own key-value metadata (read with pyarrow, the oracle);
a CSV manifest is then left byte for byte as it was; and an Appender gives up on a held lock after
the time it was given.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import manifests
from manifests import LockTimeout, schema
from manifests.groups import PARQUET_KEY, declared, meta_path, read_meta
from manifests.lock import locked
from manifests.update import Appender, declare_groups


def _row(n: int, street: str) -> dict[str, object]:
    return {schema.SHA256: f"{n:064x}", schema.PATH: f"images/{n}.png", schema.LABEL: "cog",
            schema.STATUS: schema.OK, schema.SOURCE: "folder", schema.ORIGIN: f"/shots/{n}.png",
            "street": street}


def _first_run(manifest: Path) -> None:
    with Appender(manifest, command="harvest folder shots") as sink:
        for n in range(3):
            sink.add(_row(n, f"street{n}"))


def _declared_in_file(manifest: Path) -> dict[str, str]:
    raw = (pq.read_schema(manifest).metadata or {}).get(PARQUET_KEY)
    return declared(json.loads(raw)) if raw else {}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_rerun_that_adds_nothing_still_records_its_group_column(tmp_path: Path, suffix: str) -> None:
    manifest = tmp_path / f"m{suffix}"
    _first_run(manifest)
    before = manifest.read_bytes()
    with Appender(manifest, command="harvest folder shots --group-field street") as sink:
        sink.declare_groups(["street"], "harvest folder")
        for n in range(3):
            sink.add(_row(n, f"street{n}"))  # all already present
    assert sink.stats.added == 0
    assert "street" in declared(read_meta(manifest))
    assert "street" in declared(json.loads(meta_path(manifest).read_text()))
    if suffix == ".parquet":  # the file's own copy of the metadata, rewritten with the same rows
        assert "street" in _declared_in_file(manifest)
        assert manifests.read(manifest)[schema.SHA256].tolist() == [f"{n:064x}" for n in range(3)]
    else:
        assert manifest.read_bytes() == before  # no row changed: the CSV is not rewritten


def test_groups_declared_with_no_row_buffered_are_recorded_on_flush(tmp_path: Path) -> None:
    manifest = tmp_path / "m.parquet"
    _first_run(manifest)
    sink = Appender(manifest)
    sink.declare_groups(["street"], "harvest folder")
    sink.flush()
    assert "street" in _declared_in_file(manifest)
    assert len(manifests.read(manifest)) == 3


def test_groups_declared_beside_new_rows_reach_the_parquet_file(tmp_path: Path) -> None:
    manifest = tmp_path / "m.parquet"
    _first_run(manifest)
    with Appender(manifest) as sink:
        sink.declare_groups(["street"], "harvest folder")
        sink.add(_row(7, "street7"))
    assert "street" in _declared_in_file(manifest)
    assert len(manifests.read(manifest)) == 4


@pytest.mark.parametrize("rows", [0, 1], ids=["declare only", "with a row"])
def test_an_appender_gives_up_on_a_held_lock_after_its_timeout(tmp_path: Path, rows: int) -> None:
    manifest = tmp_path / "m.csv"
    _first_run(manifest)
    sink = Appender(manifest, timeout=0.3)
    sink.declare_groups(["street"], "harvest folder")
    for n in range(rows):
        sink.add(_row(10 + n, "s"))
    with _held(manifest):
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            sink.flush()
        assert time.monotonic() - start < 4  # its own 0.3 s, not the default wait


@contextmanager
def _held(manifest: Path) -> Iterator[None]:
    """The manifest's lock, held by another thread for the duration of the block."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with locked(manifest, 5):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        yield
    finally:
        release.set()
        holder.join()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_declare_groups_records_them_and_rewrites_only_parquet(tmp_path: Path, suffix: str) -> None:
    manifest = tmp_path / f"m{suffix}"
    _first_run(manifest)
    before = manifest.read_bytes()
    declare_groups(manifest, ["street"], "harvest folder")
    assert "street" in declared(read_meta(manifest))
    if suffix == ".parquet":
        assert "street" in _declared_in_file(manifest)
        assert len(manifests.read(manifest)) == 3
    else:
        assert manifest.read_bytes() == before
    with _held(manifest):
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            declare_groups(manifest, ["scene"], "harvest frames", timeout=0.3)
        assert time.monotonic() - start < 4


def _entries(manifest: Path) -> list[dict]:
    return manifests.lineage_entries(manifest)


def test_each_run_leaves_one_lineage_entry_that_says_what_it_changed(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    _first_run(manifest)
    first = _entries(manifest)[-1]
    assert (first["command"], first["added"], first["rows"]) == ("harvest folder shots", 3, 3)
    assert first["details"]["already_present"] == 0
    with Appender(manifest, command="harvest folder shots again") as sink:
        sink.details["pattern"] = "{street}/{n}.png"
        for n in range(4):
            sink.add(_row(n, f"street{n}"))  # three present, one new
    second = _entries(manifest)[-1]
    assert (second["command"], second["added"], second["rows"]) == ("harvest folder shots again", 1, 4)
    assert second["details"] == {"already_present": 3, "pattern": "{street}/{n}.png"}
    with Appender(manifest, command="harvest folder shots idle") as sink:
        sink.details["pattern"] = "{street}/{n}.png"
        for n in range(4):
            sink.add(_row(n, f"street{n}"))  # nothing new: a run that changed nothing logs nothing
    assert len(_entries(manifest)) == 2


def test_an_appender_without_a_command_records_the_command_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    with Appender(manifest) as sink:
        sink.add(_row(1, "s"))
    assert _entries(manifest)[-1]["command"] == manifests.lineage.command_line()
