"""The one executor seam every parallel stage runs on: local pools or a Dask cluster.

A stage cuts its work into *partitions* (file lists, video lists, URL batches, hash blocks) and maps a
picklable function over them; results come back to the driver as row batches, in submission order, and
only the driver writes the manifest (through :class:`manifests.Appender`). So a lost worker or a killed
driver never corrupts a manifest, and a rerun resumes from what was flushed.

Engines, chosen by :class:`ExecutorSpec` (``--executor`` on the commands):

- ``local`` (default): a process or thread pool on this machine, as each stage always used; one worker
  (or work smaller than one partition) runs inline with no pool at all.
- ``dask-local N``: a ``distributed.LocalCluster`` of N single-threaded worker processes started for
  the run and closed after it (one worker runs as a thread of the driver, as one local worker runs
  inline).
- ``dask`` with ``--cluster ADDRESS``: an existing Dask scheduler (``tcp://host:8786``; a cluster started
  by dask-kubernetes, dask-jobqueue or a cloud provider). Workers must see the same files as the driver:
  the dataset folder and the sources (a shared file system).

Dask's scheduler retries a task whose worker died (``retries``), so a partition is computed again on
another worker; because rows are only written by the driver, a retried partition is never written twice.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor as _PoolExecutor
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from . import procs
from .errors import MissingToolError, NetworkError, UsageError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

KINDS = ("local", "dask", "dask-local")
RETRIES = 3  # times Dask recomputes a partition whose worker was lost
CONNECT_TIMEOUT = "20s"  # how long to look for the scheduler at --cluster


@dataclass(frozen=True)
class ExecutorSpec:
    """Where parallel work runs: ``local`` pools, ``dask-local`` (N workers) or ``dask`` at ``cluster``."""

    kind: str = "local"
    workers: int | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown --executor {self.kind!r} (choose from {', '.join(KINDS)})")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be at least 1, not {self.workers}")
        if self.kind == "dask" and not self.cluster:
            raise UsageError("--executor dask needs --cluster ADDRESS (a Dask scheduler, tcp://host:8786)")
        if self.kind != "dask" and self.cluster:
            raise UsageError("--cluster goes with --executor dask")

    @classmethod
    def parse(cls, executor: str = "local", cluster: str | None = None,
              workers: int | None = None) -> ExecutorSpec:
        """From the command line: ``local``, ``dask`` or ``dask-local`` / ``dask-local:N``."""
        kind, _, count = executor.partition(":")
        if count:
            if kind != "dask-local" or not count.isdigit():
                raise UsageError(f"--executor {executor!r}: only dask-local takes a worker count "
                                 "(dask-local:4)")
            workers = int(count)
        return cls(kind, workers, cluster)

    @property
    def distributed(self) -> bool:
        return self.kind != "local"

    def describe(self) -> str:
        if self.kind == "dask":
            return f"dask cluster at {self.cluster}"
        if self.kind == "dask-local":
            return f"dask LocalCluster with {self.workers or default_workers()} workers"
        return f"local ({self.workers or default_workers()} workers)"


LOCAL = ExecutorSpec()


class Executor(Protocol):
    """Maps a picklable function over partitions; results in submission order."""

    workers: int

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


def default_workers() -> int:
    return os.cpu_count() or 1


class Inline:
    """Runs every partition in this process, one after the other."""

    workers = 1

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return map(fn, items)

    def close(self) -> None:
        pass


class LocalPool:
    """A process (``processes=True``) or thread pool on this machine."""

    def __init__(self, workers: int, processes: bool = True) -> None:
        self.workers = workers
        # processes: workers die with this process, even under kill -9 (procs.pool)
        self._pool: _PoolExecutor = (procs.pool(workers) if processes
                                     else ThreadPoolExecutor(workers, thread_name_prefix="gleanset"))

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        return self._pool.map(fn, items)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def local_cluster_settings() -> dict[str, Any]:
    """Dask settings for the LocalCluster of ``dask-local``: a cluster that lives for one command on
    one machine needs none of the instruments a long-lived cluster keeps running in every process
    (measured in bench/scaleout.py; together about a third of the engine's overhead):

    - the statistical profiler (every worker samples its threads' stacks every 10 ms) and the GIL
      contention monitor (every 1 ms), which feed the dashboard ``dask-local`` does not start;
    - the event-loop tick check every 20 ms and the system monitor every 0.5 s, slowed down;
    - on Linux, workers started by ``fork`` from the driver, which has already imported what the tasks
      need (numpy, Pillow, gleanset), instead of fresh interpreters importing it all again.
    """
    settings: dict[str, Any] = {
        "distributed.worker.profile.enabled": False,
        "distributed.admin.system-monitor.gil.enabled": False,
        "distributed.admin.tick.interval": "500ms",
        "distributed.admin.system-monitor.interval": "2s",
        "distributed.worker.memory.monitor-interval": "500ms",
    }
    if sys.platform.startswith("linux"):
        settings["distributed.worker.multiprocessing-method"] = "fork"
    return settings


class DaskExecutor:
    """Partitions as Dask tasks on a ``distributed`` cluster (its own LocalCluster or a scheduler)."""

    def __init__(self, spec: ExecutorSpec, window: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise MissingToolError("--executor dask needs Dask: pip install 'gleanset[dask]'") from exc
        # Dask's loggers carry their own levels (info); follow the command's (-v) instead.
        logging.getLogger("distributed").setLevel(max(logging.getLogger().getEffectiveLevel(), logging.INFO))
        self._cluster = None
        self._settings = None
        try:
            if spec.kind == "dask-local":
                import dask

                n = spec.workers or default_workers()
                self._settings = dask.config.set(local_cluster_settings())
                with warnings.catch_warnings():  # its HTTP endpoint finding port 8787 taken, say
                    warnings.simplefilter("ignore", UserWarning)
                    # One worker runs as a thread of this process (as one local worker runs inline):
                    # no second process to start, and results are not shipped between processes.
                    self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=n > 1,
                                                 dashboard_address=None, silence_logs=False)
                self._client = Client(self._cluster, direct_to_workers=True)
            else:
                self._client = Client(spec.cluster, timeout=CONNECT_TIMEOUT)
        except OSError as exc:  # no scheduler at that address, or it went away
            self.close()
            raise NetworkError(f"cannot reach the Dask scheduler at {spec.cluster}: {exc}") from exc
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})) or 1)
        self._window = window or 4 * self.workers
        log.info("executor: %s", spec.describe())

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Submit a bounded window of partitions at a time; yield results in submission order."""
        pending: list[Any] = []
        source = iter(items)
        for item in source:
            pending.append(self._client.submit(fn, item, pure=False, retries=RETRIES))
            if len(pending) >= self._window:
                yield _result(pending.pop(0))
        while pending:
            yield _result(pending.pop(0))

    @property
    def client(self) -> Any:
        return self._client

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._settings is not None:
            self._settings.__exit__(None, None, None)
            self._settings = None


def _result(future: Any) -> Any:
    try:
        return future.result()
    finally:
        future.release()


def open_executor(spec: ExecutorSpec = LOCAL, *, processes: bool = True, size: int | None = None) -> Executor:
    """The executor for ``spec``. ``processes`` picks a process pool for local CPU work (threads for
    I/O); ``size`` is the number of partitions, so tiny jobs run inline instead of starting a pool."""
    if spec.distributed:
        return DaskExecutor(spec)
    workers = spec.workers or default_workers()
    if workers <= 1 or (size is not None and size <= 1):
        return Inline()
    return LocalPool(workers if size is None else min(workers, size), processes=processes)


def run_partitions(fn: Callable[[T], R], parts: Sequence[T], spec: ExecutorSpec = LOCAL, *,
                   processes: bool = True) -> Iterator[R]:
    """Map ``fn`` over ``parts`` on the executor for ``spec``, closing it when the results are used up
    (or the caller stops early)."""
    executor = open_executor(spec, processes=processes, size=len(parts))
    try:
        yield from executor.map(fn, parts)
    finally:
        executor.close()


def partitions(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive partitions of at most ``size``."""
    size = max(1, size)
    return [items[i:i + size] for i in range(0, len(items), size)]
