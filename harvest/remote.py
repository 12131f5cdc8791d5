"""Downloads on an executor's workers (``--executor dask``): host-partitioned batches.

The driver lists the work (posts, search results) and cuts the downloads into batches of one host
each. A worker runs a batch with its own :class:`harvest.fetch.Fetcher` (retries, 429 waits, size caps,
verification and the image store, all as on one machine) and hands back the rows; only the driver
writes the manifest. Politeness holds across the cluster: a batch holds a Dask ``Semaphore`` named
after its host while it runs, so at most one worker talks to a host at a time, within that worker's
``--per-host`` limit, and a 429 wait on a host delays every batch of that host. Locally (no Dask
worker) the lease is a no-op. A host with few downloads does not wait for the end of the listing: when
more than :data:`HOLD` downloads wait for their batch to fill, the oldest host's batch goes as it is.

:func:`download` is the switch the collectors use: ``handle(job, result)`` for every job, on this
process's fetcher threads (``--executor local``) or in host batches on the executor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from manifests.executor import ExecutorSpec, open_executor

from .fetch import Fetcher, FetchOptions, FetchResult
from .netguard import host_of

J = TypeVar("J")
T = TypeVar("T")
BATCH = 64
HOLD = 4 * BATCH  # downloads waiting for their host's batch to fill, at most
LEASE_TIMEOUT = 3600  # seconds a batch waits for its host before giving up (raises on the worker)


@dataclass(frozen=True)
class FetchBatch(Generic[J, T]):
    """Downloads of one host for one worker, and what turns each download into its result (rows)."""

    host: str
    jobs: tuple[J, ...]
    fetch: FetchOptions
    handle: Callable[[J, FetchResult], T]
    url: Callable[[J], str]


@contextlib.contextmanager
def _host_lease(host: str) -> Iterator[None]:
    """The cluster-wide lease on ``host`` inside a Dask worker; nothing elsewhere."""
    try:
        from distributed import Semaphore, get_worker

        get_worker()
    except (ImportError, ValueError):
        yield
        return
    lease = Semaphore(max_leases=1, name=f"gleanset-host:{host}")
    if not lease.acquire(timeout=LEASE_TIMEOUT):
        raise TimeoutError(f"waited {LEASE_TIMEOUT} s for the other downloads from {host}")
    try:
        yield
    finally:
        lease.release()


def run_batch(batch: FetchBatch[Any, T]) -> list[T]:
    """Download one batch on this process; each job's ``handle`` result, in completion order."""
    with _host_lease(batch.host), Fetcher(batch.fetch) as fetcher:
        return list(fetcher.map(batch.jobs, batch.handle, url=batch.url))


def host_batches(jobs: Iterable[J], url: Callable[[J], str], fetch: FetchOptions,
                 handle: Callable[[J, FetchResult], T], size: int = BATCH,
                 hold: int | None = None) -> Iterator[FetchBatch[J, T]]:
    """Jobs grouped by host into batches of at most ``size``, emitted as each fills (lazily); when
    more than ``hold`` jobs (default :data:`HOLD`) wait, the host waiting longest goes unfilled."""
    hold = max(size, hold if hold is not None else HOLD)
    waiting: dict[str, list[J]] = {}  # insertion order: the host whose first job waits longest first
    held = 0
    for job in jobs:
        host = host_of(url(job)).strip("[]")
        bucket = waiting.setdefault(host, [])
        bucket.append(job)
        held += 1
        if len(bucket) < size and held <= hold:
            continue
        if len(bucket) < size:  # too many wait: the host waiting longest goes as it is
            host = next(iter(waiting))
        out = waiting.pop(host)
        held -= len(out)
        yield FetchBatch(host, tuple(out), fetch, handle, url)
    for host, bucket in waiting.items():
        yield FetchBatch(host, tuple(bucket), fetch, handle, url)


def fetch_on(spec: ExecutorSpec, jobs: Iterable[J], url: Callable[[J], str], fetch: FetchOptions,
             handle: Callable[[J, FetchResult], T], size: int | None = None) -> Iterator[T]:
    """Run the downloads as host batches (of :data:`BATCH` by default) on the executor; yields each
    job's ``handle`` result, batch by batch."""
    executor = open_executor(spec)
    try:
        for results in executor.map(run_batch, host_batches(jobs, url, fetch, handle, size or BATCH)):
            yield from results
    finally:
        executor.close()


def download(fetcher: Fetcher, spec: ExecutorSpec | None, jobs: Iterable[J], url: Callable[[J], str],
             handle: Callable[[J, FetchResult], T]) -> Iterator[T]:
    """``handle(job, result)`` for every job: on ``fetcher``'s threads, or, when ``spec`` is
    distributed, in host batches on its workers (then ``handle`` and the jobs must pickle, and
    ``handle`` must write only where the workers see the same paths)."""
    if spec is not None and spec.distributed:
        yield from fetch_on(spec, jobs, url, fetcher.options, handle)
    else:
        yield from fetcher.map(jobs, handle, url=url)
