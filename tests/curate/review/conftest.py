"""Shared by the ``curate review`` tests: a server on 127.0.0.1 over a generated manifest, and one
headless Chromium per module driven by Playwright (the system's browser, never a downloaded one)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from curate.review import ReviewOptions
from tests.curate.conftest import Dataset, make_dataset
from tests.fixtures.chromium import FLAGS, find_chromium

COMMAND = "curate review manifest.csv"


@dataclass
class Served:
    data: Dataset
    server: Any  # curate.review.app.ReviewServer
    base: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Review-Token": self.token}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The review app over a fresh copy of the shared generated dataset (tests/curate/conftest.py)."""
    from curate.review.app import ReviewServer

    data = make_dataset(tmp_path / "data")
    server = ReviewServer(data.manifest, ReviewOptions(batch_seconds=0.2), command=COMMAND)
    server.start()
    try:
        yield Served(data, server, f"http://127.0.0.1:{server.port}", server.review.options.token)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, launched from its executable (no browser download)."""
    from playwright.sync_api import sync_playwright  # the dev extra installs it

    path = find_chromium()
    with sync_playwright() as play:
        launched = play.chromium.launch(executable_path=path, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()
