"""Host batches for downloads on an executor (``harvest.remote``): grouping, flushing, per-job results."""

from __future__ import annotations

from harvest.fetch import FetchOptions, FetchResult
from harvest.remote import host_batches

FETCH = FetchOptions()


def status(job: str, result: FetchResult) -> str:
    return result.status


def batches(urls: list[str], size: int, hold: int | None = None) -> list[tuple[str, tuple[str, ...]]]:
    return [(b.host, b.jobs) for b in host_batches(urls, str, FETCH, status, size, hold)]


def test_batches_fill_per_host_and_the_rest_go_at_the_end() -> None:
    urls = ["http://a.org/1", "http://B.org:81/1", "http://a.org/2", "http://a.org/3", "http://b.org/2"]
    assert batches(urls, 2) == [("a.org", ("http://a.org/1", "http://a.org/2")),
                                ("b.org", ("http://B.org:81/1", "http://b.org/2")),
                                ("a.org", ("http://a.org/3",))]


def emitted(urls: list[str], size: int, hold: int | None = None) -> list[tuple[str, int, int]]:
    """Each batch's host and size, and how many jobs had been read when it was emitted."""
    read: list[str] = []

    def jobs():
        for url in urls:
            read.append(url)
            yield url

    return [(b.host, len(b.jobs), len(read)) for b in host_batches(jobs(), str, FETCH, status, size, hold)]


def test_when_too_many_wait_the_oldest_host_goes_unfilled() -> None:
    urls = ["http://a/1", "http://b/1", "http://a/2", "http://c/1", "http://a/3",  # a fills
            "http://d/1", "http://e/1", "http://f/1", "http://g/1"]  # over the hold: b, then c go
    assert emitted(urls, 3, hold=4) == [("a", 3, 5), ("b", 1, 8), ("c", 1, 9), ("d", 1, 9),
                                        ("e", 1, 9), ("f", 1, 9), ("g", 1, 9)]
    # without a hold, hosts with one job each wait for the end of the listing
    assert emitted(urls, 3, hold=100) == [("a", 3, 5), ("b", 1, 9), ("c", 1, 9), ("d", 1, 9),
                                          ("e", 1, 9), ("f", 1, 9), ("g", 1, 9)]
