"""The distributed tests run on the session's real LocalCluster (``dask_cluster`` in tests/conftest.py)."""

from __future__ import annotations

import pytest

from manifests.executor import ExecutorSpec


@pytest.fixture
def dask(dask_cluster: str) -> ExecutorSpec:
    return ExecutorSpec("dask", cluster=dask_cluster)
