"""Shared test fixtures: paths to ../shared, a fail-on-error-log guard, a temporary dataset folder."""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"

# The suite's processes share the machine's cores (two xdist workers on two): one OpenMP/BLAS thread in
# each, and in every process a test starts (they inherit the environment), rather than a pool per core
# in every one of them spinning against the others. A user's own setting wins.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


@pytest.fixture(scope="session", autouse=True)
def _encoded_videos_discarded() -> Iterator[None]:
    """The clips tests/fixtures/video.py keeps to copy go with the session (xdist workers and mutmut's
    forks leave through ``os._exit``, past atexit)."""
    yield
    from tests.fixtures.video import discard_encoded

    discard_encoded()


@pytest.fixture
def shared_fixtures() -> Path:
    """../shared/fixtures, or a skip that says why when a clone does not have it."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (only developer machines have ../shared)")
    return SHARED


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same random state, whatever ran before it in its process (the order
    is random under pytest-randomly, which reseeds ``random`` and numpy itself): torch is seeded too,
    when a test already imported it (importing it here would cost every other test a second)."""
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)


@pytest.fixture(autouse=True)
def _no_error_logs(caplog: pytest.LogCaptureFixture):
    """Fail any test whose code logged at ERROR level without the test expecting it."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors and not getattr(caplog, "errors_expected", False):
        pytest.fail(f"unexpected ERROR log: {errors[0].getMessage()}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--train-seed", type=int, default=0,
                     help="seed of the tests' training runs: a verdict that holds for several seeds does "
                          "not hang on the exact floats of one run (another CPU's kernels differ as much)")


@pytest.fixture(scope="session")
def train_seed(request: pytest.FixtureRequest) -> int:
    """The seed every training run of the tests uses (``--train-seed``, default 0)."""
    return int(request.config.getoption("--train-seed"))


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """A real ``distributed.LocalCluster`` with 2 single-threaded worker processes, started once per
    test module that asks for it; yields the scheduler address. Not once per session: the idle workers
    and their nannies then ran beside the rest of the suite (20-40 CPU s of heartbeats, charged to
    whichever test reaped them), where a module's own cluster costs about 3 CPU s to start."""
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is in the dev extra")
    import dask

    # Dask's diagnostics, not its scheduling: the statistical profiler samples each worker's stacks every
    # 10 ms, the event-loop health check ticks every 20 ms, the system and memory monitors poll every
    # 0.5 s and 0.1 s, in every process of the cluster for as long as it lives. Rarer here (the workers
    # read them from the environment they are started with), the same tasks, retries and work stealing.
    quiet = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
             "distributed.admin.system-monitor.interval": "5s",
             "distributed.worker.memory.monitor-interval": "1s"}
    with pytest.MonkeyPatch.context() as patch, dask.config.set(quiet):
        for key, value in quiet.items():
            patch.setenv("DASK_" + key.upper().replace(".", "__").replace("-", "_"), str(value))
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=logging.ERROR) as local:
            yield local.scheduler_address


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` skip, saying why, where torch sees no CUDA device (tests/test_markers.py
    checks that every test asking for CUDA carries the marker)."""
    gpu = [item for item in items if "gpu" in item.keywords]
    if not gpu:
        return
    import torch
    if torch.cuda.is_available():
        return
    for item in gpu:
        item.add_marker(pytest.mark.skip(reason="needs a CUDA device (gpu marker)"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With ``GLEANSET_TEST_CPU=FILE``: append each test's CPU seconds (its setup, call and teardown, in
    this process and in the child processes it waited for) to FILE, a JSON line per test; what
    docs/testing.md's cost table is made from (``python -m tests.cpu_costs FILE`` sums it)."""
    target = os.environ.get("GLEANSET_TEST_CPU")
    if not target:
        yield
        return
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    yield
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    own, children = ((a.ru_utime + a.ru_stime) - (b.ru_utime + b.ru_stime)
                     for a, b in zip(after, before, strict=True))
    line = {"test": item.nodeid, "own": round(own, 2), "children": round(children, 2),
            "left": _live_children()}  # processes a test leaves running are charged to a later one
    with open(target, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def _live_children() -> list[str]:
    """This process's children still running (or unreaped): pid and command line, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name} {command[:160]}")
        except (OSError, ValueError, IndexError):
            continue
    return found
