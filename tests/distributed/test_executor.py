"""The executor seam: spec parsing, order of results, and a worker lost mid-task on a real cluster."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.dedupe import search
from curate.dedupe.blocks import block_pairs
from manifests import UsageError
from manifests.executor import ExecutorSpec, Inline, LocalPool, open_executor, partitions, run_partitions

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import the tests package


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize(("text", "cluster", "message"), [
    ("ray", None, "unknown --executor 'ray'"),
    ("dask", None, "needs --cluster"),
    ("local", "tcp://h:8786", "--cluster goes with --executor dask"),
    ("dask:3", None, "only dask-local takes a worker count"),
])
def test_bad_specs_are_usage_errors(text: str, cluster: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ExecutorSpec.parse(text, cluster)


def test_spec_parsing_and_local_engines() -> None:
    assert ExecutorSpec.parse("dask-local:3") == ExecutorSpec("dask-local", 3)
    assert not ExecutorSpec.parse("local").distributed
    assert isinstance(open_executor(ExecutorSpec(workers=1)), Inline)
    assert isinstance(open_executor(ExecutorSpec(workers=4), size=1), Inline)
    pool = open_executor(ExecutorSpec(workers=2), processes=False, size=10)
    assert isinstance(pool, LocalPool) and pool.workers == 2
    pool.close()
    assert partitions(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_results_come_back_in_submission_order(dask: ExecutorSpec) -> None:
    items = list(range(40))
    assert list(run_partitions(square, items, dask)) == [x * x for x in items]
    assert list(run_partitions(square, items, ExecutorSpec(workers=2))) == [x * x for x in items]


def die_once(args: tuple[int, str]) -> int:
    """Kills its worker process the first time partition 3 runs (a lost worker), then succeeds."""
    value, marker = args
    if value == 3 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    return value * 10


def test_a_worker_lost_mid_task_loses_and_duplicates_nothing(dask: ExecutorSpec, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.errors_expected = True  # the scheduler logs the lost worker at ERROR level
    marker = str(tmp_path / "died")
    out = list(run_partitions(die_once, [(i, marker) for i in range(8)], dask))
    assert Path(marker).exists(), "the worker never died: the test did not test anything"
    assert out == [i * 10 for i in range(8)]


def test_unreachable_scheduler_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from manifests import NetworkError

    monkeypatch.setattr("manifests.executor.CONNECT_TIMEOUT", "1s")
    with pytest.raises(NetworkError, match="cannot reach the Dask scheduler"):
        list(run_partitions(square, [1, 2], ExecutorSpec("dask", cluster="tcp://127.0.0.1:9")))


@st.composite
def hash_sets(draw: st.DrawFn) -> tuple[np.ndarray, int, int]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, 150))
    packed = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    if n > 1:
        copies = rng.integers(0, n, n // 2)
        noise = np.packbits(rng.random((len(copies), 64)) < 0.05, axis=1)
        packed = np.concatenate([packed, packed[copies] ^ noise])
    return packed, draw(st.integers(0, 12)), draw(st.integers(16, 120))


@settings(max_examples=20, deadline=None)
@given(hash_sets(), st.sampled_from(["brute", "auto"]))  # mih on the cluster test below
def test_block_search_finds_exactly_the_local_pairs(case: tuple[np.ndarray, int, int], engine: str) -> None:
    packed, threshold, rows = case
    want = search.near_pairs(packed, threshold, engine)
    got = block_pairs(packed, threshold, engine, ExecutorSpec(workers=1), block_rows=rows)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_block_search_on_the_cluster(dask: ExecutorSpec) -> None:
    rng = np.random.default_rng(5)
    packed = rng.integers(0, 256, (3000, 8), dtype=np.uint8)
    packed[1500:1600] = packed[:100] ^ np.packbits(rng.random((100, 64)) < 0.04, axis=1)
    want = search.near_pairs(packed, 8, "mih")
    got = block_pairs(packed, 8, "mih", dask, block_rows=700)
    assert len(want[0]) >= 90
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def pid_of(_: int) -> int:
    return os.getpid()


def test_dask_local_runs_one_worker_in_this_process_and_more_in_their_own() -> None:
    one = list(run_partitions(pid_of, [1, 2, 3], ExecutorSpec("dask-local", 1)))
    assert set(one) == {os.getpid()}  # a thread of the driver, as one local worker runs inline
    two = list(run_partitions(pid_of, list(range(8)), ExecutorSpec("dask-local", 2)))
    assert os.getpid() not in two and 1 <= len(set(two)) <= 2  # worker processes of their own
    assert list(run_partitions(square, [1, 2, 3], ExecutorSpec("dask-local", 1))) == [1, 4, 9]
