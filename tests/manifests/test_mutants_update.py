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
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import manifests
from manifests import LockTimeout, schema
from manifests.groups import PARQUET_KEY, declared, meta_path, read_meta
from manifests.lock import locked
from manifests.update import Appender


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
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with locked(manifest, 5):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            sink.flush()
        assert time.monotonic() - start < 4  # its own 0.3 s, not the default wait
    finally:
        release.set()
        holder.join()
