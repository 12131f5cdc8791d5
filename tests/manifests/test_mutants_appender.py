"""The Appender's flush policy, its no-op reruns and its bookkeeping, pinned down so that the mutants
``make mutate`` made of ``manifests/update.py``'s ``Appender`` fail.

The flush policy (class docstring: ``batch_size`` rows once ``interval`` seconds passed, any row older
than ``max_delay`` seconds, or ``max_buffer`` rows) is checked at its exact boundaries with the
Appender's clock replaced by one the test sets, rather than with sleeps and timing assertions; a
flush is seen the way a user sees it, as rows in the manifest file. A rerun that adds nothing must
not rewrite the file (a rewrite renames a new file over it: a new inode).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

import manifests
from manifests import schema
from manifests.archive import Archive
from manifests.groups import meta_path
from manifests.lock import lock_path
from manifests.merge import MergeStats
from manifests.update import Appender

update_module = importlib.import_module("manifests.update")  # manifests.update is also the function


class Clock:
    """The Appender's ``time.monotonic``, set by the test."""

    def __init__(self) -> None:
        self.now = 0.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(update_module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    return clock


def _row(n: int, **extra: object) -> dict[str, object]:
    return {schema.SHA256: f"{n:064x}", schema.PATH: f"images/{n}.png", schema.STATUS: schema.OK,
            schema.SOURCE: "folder", schema.ORIGIN: f"/shots/{n}.png", **extra}


def _rows_in(manifest: Path) -> int:
    return len(manifests.read(manifest)) if manifest.exists() else 0


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns


def test_a_row_older_than_max_delay_flushes_the_batch(tmp_path: Path, clock: Clock) -> None:
    manifest = tmp_path / "m.csv"
    sink = Appender(manifest)  # the defaults: max_delay 3 s, batch_size 200 after interval 5 s
    clock.now = 2.999
    for n in range(250):
        sink.add(_row(n))
    assert _rows_in(manifest) == 0  # a full batch, but the interval has not passed
    clock.now = 3.0
    sink.add(_row(250))
    assert _rows_in(manifest) == 251


def test_a_full_batch_flushes_once_the_interval_has_passed(tmp_path: Path, clock: Clock) -> None:
    manifest = tmp_path / "m.csv"
    sink = Appender(manifest, max_delay=60)  # batch_size 200, interval 5 s
    clock.now = 5.0
    for n in range(199):
        sink.add(_row(n))
    assert _rows_in(manifest) == 0
    sink.add(_row(199))
    assert _rows_in(manifest) == 200


def test_max_buffer_rows_flush_whatever_the_time(tmp_path: Path, clock: Clock) -> None:
    manifest = tmp_path / "m.csv"
    sink = Appender(manifest, max_delay=60)  # max_buffer 50 000
    for n in range(49_999):
        sink.add({schema.SHA256: f"{n:064x}", schema.STATUS: schema.OK, schema.SOURCE: "t"})
    assert not manifest.exists()
    sink.add({schema.SHA256: f"{49_999:064x}", schema.STATUS: schema.OK, schema.SOURCE: "t"})
    assert manifest.exists() and sink.stats.added == 50_000
    small = Appender(tmp_path / "small.csv", max_delay=60, max_buffer=3)
    for n in range(3):
        small.add(_row(n))
    assert _rows_in(small.path) == 3


def test_partial_entries_count_each_flush_once(tmp_path: Path, clock: Clock) -> None:
    manifest = tmp_path / "m.csv"
    sink = Appender(manifest, command="harvest folder shots", max_delay=1.0)
    sink.add(_row(0))
    sink.add(_row(1))
    clock.now = 1.0
    sink.add(_row(2))  # flushes three rows
    clock.now = 2.0
    sink.add(_row(0))  # flushes a row already present: nothing to log
    clock.now = 2.5
    sink.add(_row(3))
    assert sink.close() == MergeStats(added=4, already_present=1)
    entries = manifests.lineage_entries(manifest)
    assert [(e["added"], e["rows"], e["details"]) for e in entries] == [
        (3, 3, {"already_present": 0, "partial": True}), (1, 4, {"already_present": 1})]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_rerun_that_adds_nothing_does_not_rewrite_the_manifest(tmp_path: Path, suffix: str) -> None:
    manifest = tmp_path / f"m{suffix}"
    with Appender(manifest) as sink:
        for n in range(3):
            sink.add(_row(n, street=f"s{n}"))
    before = _identity(manifest)
    with Appender(manifest) as sink:
        for n in range(3):
            sink.add(_row(n, street=f"s{n}"))
    assert _identity(manifest) == before
    if suffix == ".csv":  # declaring a group column writes the sidecar, not the CSV
        with Appender(manifest) as sink:
            sink.declare_groups(["street"], "harvest folder")
        assert manifests.group_columns(manifest) == ("street",)
        assert _identity(manifest) == before


@pytest.mark.parametrize("new_row", [False, True], ids=["no new row", "a new row"])
def test_the_first_declaration_keeps_the_legacy_group_columns(tmp_path: Path, new_row: bool) -> None:
    manifest = tmp_path / "m.csv"
    manifests.write(manifests.from_records([_row(n, street="s", site=f"x{n}") for n in range(3)]),
                    manifest)  # written before group columns were recorded
    with Appender(manifest) as sink:
        sink.declare_groups(["site"], "harvest folder")
        if new_row:
            sink.add(_row(9, street="s", site="x9"))
    assert manifests.group_columns(manifest) == ("street", "site")


def test_the_first_declaration_of_a_column_in_a_run_wins(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    with Appender(manifest) as sink:
        sink.declare_groups(["site"], "harvest folder")
        sink.declare_groups(["site", ""], "harvest folder --again")
        sink.add(_row(0, site="x"))
    assert manifests.groups.declared(manifests.groups.read_meta(manifest)) == {"site": "harvest folder"}


def test_an_appender_with_nothing_to_write_touches_nothing(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    sink = Appender(manifest)
    sink.declare_groups(["site"], "harvest folder")
    assert sink.flush() == MergeStats()
    sink.close()
    assert sorted(tmp_path.iterdir()) == []  # a failed first run: no manifest, sidecar or lock file
    with Appender(manifest) as sink:
        sink.add(_row(0))
    with manifests.locked(manifest):  # held: a flush with nothing to write does not wait for it
        assert Appender(manifest, timeout=0.2).flush() == MergeStats()
    assert not meta_path(manifest).exists() and lock_path(manifest).exists()


def test_a_mark_without_variant_is_recorded_with_the_empty_variant(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    with Appender(manifest) as sink:
        sink.add(_row(0))
        sink.mark("folder", "/shots/0.png")
    assert list(Archive(manifest).entries("folder", variant="")) == ["/shots/0.png"]


def test_a_success_replacing_two_failed_rows_is_one_change_and_one_removal(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    failed = {schema.STATUS: "error", schema.SOURCE: "web", schema.ORIGIN: "http://x/a"}
    manifests.write(manifests.from_records([{**failed, schema.ERROR: "404"},
                                            {**failed, schema.ERROR: "500"}]), manifest)
    with Appender(manifest, command="harvest urls again") as sink:
        sink.add({schema.SHA256: "a" * 64, schema.PATH: "a.png", schema.STATUS: schema.OK,
                  schema.SOURCE: "web", schema.ORIGIN: "http://x/a"})
    (entry,) = manifests.lineage_entries(manifest)
    assert (entry["added"], entry["changed"], entry["removed"], entry["rows"]) == (0, 1, 1, 1)
