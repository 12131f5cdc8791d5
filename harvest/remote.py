"""Downloads on an executor's workers (``--executor dask``): host-partitioned batches.

The driver lists the work (posts, search results) and cuts the downloads into batches of one host
each. A worker runs a batch with its own :class:`harvest.fetch.Fetcher` (retries, 429 waits, size caps,
verification and the image store, all as on one machine) and hands back the rows; only the driver
writes the manifest. Politeness holds across the cluster: a batch holds a Dask ``Semaphore`` named
after its host while it runs, so at most one worker talks to a host at a time, within that worker's
``--per-host`` limit, and a 429 wait on a host delays every batch of that host. Locally (no Dask
worker) the lease is a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from manifests.executor import ExecutorSpec, open_executor

from .fetch import Fetcher, FetchOptions, FetchResult

J = TypeVar("J")
Rows = list[dict[str, Any]]
BATCH = 64
LEASE_TIMEOUT = 3600  # seconds a batch waits for its host before giving up (raises on the worker)


@dataclass(frozen=True)
class FetchBatch(Generic[J]):
    """Downloads of one host for one worker, and what turns each download into rows."""

    host: str
    jobs: tuple[J, ...]
    fetch: FetchOptions
    handle: Callable[[J, FetchResult], Rows]
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


def run_batch(batch: FetchBatch[Any]) -> Rows:
    """Download one batch on this process; every job's rows, in completion order."""
    rows: Rows = []
    with _host_lease(batch.host), Fetcher(batch.fetch) as fetcher:
        for out in fetcher.map(batch.jobs, batch.handle, url=batch.url):
            rows.extend(out)
    return rows


def host_batches(jobs: Iterable[J], url: Callable[[J], str], fetch: FetchOptions,
                 handle: Callable[[J, FetchResult], Rows], size: int = BATCH) -> Iterator[FetchBatch[J]]:
    """Jobs grouped by host into batches of at most ``size``, emitted as each fills (lazily)."""
    waiting: dict[str, list[J]] = {}
    for job in jobs:
        host = (urlsplit(url(job)).hostname or "").lower()
        bucket = waiting.setdefault(host, [])
        bucket.append(job)
        if len(bucket) >= size:
            yield FetchBatch(host, tuple(waiting.pop(host)), fetch, handle, url)
    for host, bucket in waiting.items():
        yield FetchBatch(host, tuple(bucket), fetch, handle, url)


def fetch_on(spec: ExecutorSpec, jobs: Iterable[J], url: Callable[[J], str], fetch: FetchOptions,
             handle: Callable[[J, FetchResult], Rows], size: int | None = None) -> Iterator[Rows]:
    """Run the downloads as host batches (of :data:`BATCH` by default) on the executor; yields each
    batch's rows."""
    executor = open_executor(spec)
    try:
        yield from executor.map(run_batch, host_batches(jobs, url, fetch, handle, size or BATCH))
    finally:
        executor.close()
