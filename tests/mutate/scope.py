"""pytest plugin for `make mutate` (loaded by mutmut through ``-p tests.mutate.scope``, never by
`make test`): each mutated module's mutants are judged only by the fast tests that target it.

``[tool.gleanset.mutate.tests]`` in pyproject.toml maps a module (``manifests/io.py``) to test files or
folders. mutmut names the mutant under test in ``MUTANT_UNDER_TEST`` (``manifests.io.x_read__mutmut_3``,
``manifests.archive.xǁArchiveǁadd__mutmut_1``); for a mutant this plugin deselects every test outside
its module's list, and for mutmut's other runs (stats, clean run, forced failure) every test outside
the union of the lists. A mutant that no test of its module reaches then runs no test (pytest's exit
code 5), which mutmut records as "no tests", not as killed.

mutmut passes a mutant's tests with ``-x`` in collection order; the plugin runs them fastest first
(durations from mutmut's stats run, ``mutmut-stats.json``), so a killed mutant stops at its cheapest
failing test instead of after the slow property tests its file lists first; and each of them may take five
times as long as it took there (``time_limit``: a mutant that deadlocks fails its test then, and
counts as killed, as mutmut counts its own timeouts).
"""

from __future__ import annotations

import gc
import json
import os
import tomllib
from functools import cache
from pathlib import Path

import pytest

MUTANT_MARK = "__mutmut_"
# Seconds one test may take under a mutant (pytest-timeout): five times what it took in the stats run,
# at least 10 s, at most 60 s (the slowest judging test takes ~15 s). mutmut's own limit is on CPU
# time, which a mutant that deadlocks on a pipe never spends: without this, each such mutant of the
# video decoders waited out the suite's 600 s.
MUTANT_TEST_TIMEOUT = 60
TIME_LIMIT_FACTOR, TIME_LIMIT_FLOOR = 5.0, 10.0


def time_limit(took: float | None) -> float:
    """The pytest-timeout seconds of a test that took ``took`` seconds in mutmut's stats run."""
    if took is None:
        return MUTANT_TEST_TIMEOUT
    return min(MUTANT_TEST_TIMEOUT, max(TIME_LIMIT_FLOOR, TIME_LIMIT_FACTOR * took))


def tests_by_module(root: Path) -> dict[str, list[str]]:
    """``[tool.gleanset.mutate.tests]`` of ``root/pyproject.toml``: module path -> test paths."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return data["tool"]["gleanset"]["mutate"]["tests"]


def module_of(mutant: str) -> str | None:
    """The module path a mutant name belongs to, or None for mutmut's own runs (``stats``, ``fail``…)."""
    if MUTANT_MARK not in mutant:
        return None
    dotted = mutant.rpartition(".")[0]
    return dotted.replace(".", "/") + ".py"


def scope(mutant: str, table: dict[str, list[str]]) -> list[str]:
    """The test paths that judge ``mutant`` (all of the table's for mutmut's own runs)."""
    module = module_of(mutant)
    if module is None:
        return sorted({path for paths in table.values() for path in paths})
    if module not in table:
        raise pytest.UsageError(f"{module} is mutated but has no entry in [tool.gleanset.mutate.tests]")
    return table[module]


@cache
def durations(stats: Path) -> dict[str, float]:
    """Seconds each test took in mutmut's stats run (node ids as this run collects them); {} without."""
    try:
        data = json.loads(stats.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {name.removeprefix("mutants/"): float(d) for name, d in data.get("duration_by_test", {}).items()}


def _inside(nodeid: str, paths: list[str]) -> bool:
    file = nodeid.split("::", 1)[0]
    return any(file == p or file.startswith(p.rstrip("/") + "/") for p in paths)


def pytest_collection_finish(session: pytest.Session) -> None:
    """After a collect-only run (mutmut's fork server warming up), freeze what is in memory: the
    mutants forked from the server then leave it out of their garbage collections (pytest collects
    twice at exit), which otherwise walk, and copy page by page, every object the server imported."""
    if session.config.option.collectonly:
        gc.freeze()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    paths = scope(os.environ.get("MUTANT_UNDER_TEST", ""), tests_by_module(config.rootpath))
    keep = [item for item in items if _inside(item.nodeid, paths)]
    dropped = [item for item in items if not _inside(item.nodeid, paths)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    if MUTANT_MARK in os.environ.get("MUTANT_UNDER_TEST", ""):
        took = durations(Path.cwd() / "mutmut-stats.json")
        keep.sort(key=lambda item: took.get(item.nodeid, 0.0))  # stable: file order among equals
        for item in keep:
            item.add_marker(pytest.mark.timeout(time_limit(took.get(item.nodeid))))
    items[:] = keep
