"""``manifests.update`` under contention (issue 23): two processes changing one manifest at once lose
nothing, and neither does an update racing an ``Appender``.

Each update holds the manifest a moment between its read and its write (a sleep inside the ``with``
block, in the child only), so without the lock two read-modify-writes overlap and one overwrites the
other's change; with it they take turns. The children start together (a go file) and run a bounded
number of rounds. How long a command waits for the lock comes from ``GLEANSET_LOCK_TIMEOUT``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import manifests
from manifests import schema
from manifests.update import lock_timeout

ROUNDS = 12
HOLD = 0.03  # seconds an update holds what it read before writing it back

# Waits for the go file, then per round: change one row of its own (label) and add one new row.
UPDATER = """
import sys, time
from pathlib import Path
import pandas as pd

import manifests
from manifests import schema
path, name, first, rounds, hold, go = sys.argv[1:7]
Path(go + "." + name).touch()
while not Path(go).exists():
    time.sleep(0.005)
for r in range(int(rounds)):
    with manifests.update(path, command=f"{name} {r}") as tx:
        mine = tx.frame[schema.SHA256] == f"{int(first) + r:064x}"
        assert mine.sum() == 1, "the row to change is there"
        tx.frame.loc[mine, schema.LABEL] = name
        new = manifests.from_records([{schema.SHA256: f"{name}-{r}".encode().hex().rjust(64, "0"),
                                       schema.SOURCE: name, schema.ORIGIN: f"{name}/{r}",
                                       schema.STATUS: "ok", schema.LABEL: name}])
        tx.frame = pd.concat([tx.frame, new], ignore_index=True)
        time.sleep(float(hold))
"""

# Waits for the go file, then adds rows through an Appender that merges every 3 rows.
APPENDER = """
import sys, time
from pathlib import Path

import manifests
from manifests import schema
path, name, count, go = sys.argv[1:5]
Path(go + "." + name).touch()
while not Path(go).exists():
    time.sleep(0.005)
with manifests.Appender(path, batch_size=3, interval=0, command=name) as sink:
    for i in range(int(count)):
        sink.add({schema.SHA256: f"{name}-{i}".encode().hex().rjust(64, "0"), schema.SOURCE: name,
                  schema.ORIGIN: f"{name}/{i}", schema.STATUS: "ok", schema.LABEL: name})
        time.sleep(0.01)
"""


def base_manifest(path: Path, rows: int) -> None:
    """``rows`` ok rows labelled ``start``; row i has sha256 ``i`` in hex."""
    manifests.write(manifests.from_records(
        [{schema.SHA256: f"{i:064x}", schema.SOURCE: "folder", schema.ORIGIN: f"o{i}",
          schema.STATUS: "ok", schema.LABEL: "start"} for i in range(rows)]), path)


def run_together(go: Path, children: dict[str, list[str]]) -> None:
    """Start one Python child per name, let them go at once when all are ready, wait for them all."""
    procs = {name: subprocess.Popen([sys.executable, "-c", *args], stderr=subprocess.PIPE, text=True)
             for name, args in children.items()}
    try:
        deadline = time.monotonic() + 120
        while not all(Path(f"{go}.{name}").exists() for name in children):
            assert time.monotonic() < deadline, "the children did not start"
            assert all(p.poll() is None for p in procs.values()), "a child died before the start"
            time.sleep(0.01)
        go.touch()
        failed = {name: p.communicate(timeout=120)[1] for name, p in procs.items()}
        assert {name: p.returncode for name, p in procs.items()} == dict.fromkeys(children, 0), failed
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def labels(path: Path) -> dict[str, str]:
    """Each row's label by sha256."""
    frame = manifests.read(path)
    return dict(zip(frame[schema.SHA256], frame[schema.LABEL], strict=True))


def added_by(name: str, count: int) -> set[str]:
    """The sha256 values of the rows a child named ``name`` adds (as the children spell them)."""
    return {f"{name}-{i}".encode().hex().rjust(64, "0") for i in range(count)}


def test_two_processes_updating_one_manifest_lose_no_change(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    base_manifest(path, 2 * ROUNDS)
    go = tmp_path / "go"
    run_together(go, {name: [UPDATER, str(path), name, str(first), str(ROUNDS), str(HOLD), str(go)]
                      for name, first in (("a", 0), ("b", ROUNDS))})
    final = labels(path)
    assert len(final) == 4 * ROUNDS, "a row added by one update was lost by the other"
    assert [final[f"{i:064x}"] for i in range(2 * ROUNDS)] == ["a"] * ROUNDS + ["b"] * ROUNDS, \
        "a change made by one update was overwritten by the other"
    for name in ("a", "b"):
        assert {sha for sha, label in final.items() if label == name} >= added_by(name, ROUNDS)
    commands = [e["command"] for e in manifests.lineage_entries(path)]
    assert sorted(commands) == sorted(f"{n} {r}" for n in "ab" for r in range(ROUNDS))


def test_an_update_racing_an_appender_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    base_manifest(path, ROUNDS)
    go, appended = tmp_path / "go", 3 * ROUNDS
    run_together(go, {"u": [UPDATER, str(path), "u", "0", str(ROUNDS), str(HOLD), str(go)],
                      "app": [APPENDER, str(path), "app", str(appended), str(go)]})
    final = labels(path)
    assert {sha for sha, label in final.items() if label == "app"} == added_by("app", appended), \
        "rows the Appender merged were lost to the update"
    assert [final[f"{i:064x}"] for i in range(ROUNDS)] == ["u"] * ROUNDS, "an update's change was lost"
    assert {sha for sha, label in final.items() if label == "u"} >= added_by("u", ROUNDS)
    assert len(final) == ROUNDS + ROUNDS + appended


def test_the_lock_wait_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "m.csv"
    base_manifest(path, 1)
    assert lock_timeout() == 600
    monkeypatch.setenv("GLEANSET_LOCK_TIMEOUT", "0.1")
    assert lock_timeout() == 0.1
    with manifests.locked(path), pytest.raises(manifests.LockTimeout, match="locked by another"), \
            manifests.update(path):
        pass
    for bad in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv("GLEANSET_LOCK_TIMEOUT", bad)
        with pytest.raises(manifests.UsageError, match="GLEANSET_LOCK_TIMEOUT"), manifests.update(path):
            pass
