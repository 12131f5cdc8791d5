"""`make mutate`'s configuration stays pointed at real files: every mutated module exists and has its
tests, every test path exists, and the plugin maps mutmut's mutant names back to those modules (a
module moved without its entries here would be mutated with no test, or not at all)."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.mutate import report, scope

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
MUTATED = CONFIG["mutmut"]["only_mutate"]
TESTS = scope.tests_by_module(ROOT)


def test_every_mutated_module_exists_and_has_tests_that_exist() -> None:
    assert sorted(MUTATED) == sorted(TESTS), "only_mutate and [tool.gleanset.mutate.tests] disagree"
    for module in MUTATED:
        assert (ROOT / module).is_file(), f"{module} (only_mutate) does not exist"
        assert any(module.startswith(p.rstrip("/") + "/") for p in CONFIG["mutmut"]["source_paths"])
        assert TESTS[module], f"{module} has no tests"
        for path in TESTS[module]:
            assert (ROOT / path).exists(), f"{path} (tests of {module}) does not exist"


@pytest.mark.parametrize(("mutant", "module"), [
    ("manifests.io.x_read__mutmut_3", "manifests/io.py"),
    ("manifests.archive.xǁArchiveǁadd_many__mutmut_12", "manifests/archive.py"),
    ("harvest.video.decode.x__seek_frames__mutmut_1", "harvest/video/decode.py"),
    ("stats", None), ("fail", None), ("", None), ("list_all_tests", None),
])
def test_mutant_names_map_to_their_module(mutant: str, module: str | None) -> None:
    assert scope.module_of(mutant) == module


def test_a_mutant_is_judged_by_its_module_tests_and_mutmut_runs_by_all() -> None:
    mutant = "curate.dedupe.clusters.x_clusters__mutmut_1"
    assert scope.scope(mutant, TESTS) == TESTS["curate/dedupe/clusters.py"]
    everything = scope.scope("stats", TESTS)
    assert set(everything) == {p for paths in TESTS.values() for p in paths}
    with pytest.raises(pytest.UsageError, match="no entry"):
        scope.scope("curate.report.x_render__mutmut_1", TESTS)


def test_the_report_counts_survivors_over_the_mutants_checked() -> None:
    module = report.Module("m.py", Counter({"killed": 6, "timeout": 1, "survived": 2, "no tests": 1,
                                            "not checked": 10}),
                           [("m.x_f__mutmut_1", "survived"), ("m.x_f__mutmut_2", "survived"),
                            ("m.x_g__mutmut_1", "no tests")])
    assert (module.total, module.checked, module.survivors, module.percent()) == (20, 10, 3, "30.0%")
    text = report.render([module], {"m.x_f__mutmut_2"}, with_diffs=False)
    row = next(line for line in text.splitlines() if line.startswith("m.py"))
    assert row.split() == ["m.py", "20", "6", "1", "2", "1", "0", "10", "30.0%", "1"]
    assert "== m.x_f__mutmut_1: survived, UNEXPLAINED" in text
    assert "== m.x_f__mutmut_2: survived, equivalent (docs/testing.md)" in text


def test_equivalent_mutants_are_read_from_backticked_names(tmp_path: Path) -> None:
    doc = tmp_path / "testing.md"
    doc.write_text("- `manifests.merge.x_row_keys__mutmut_9`: prefix only\n"
                   "- `manifests.archive.xǁArchiveǁadd__mutmut_2` and `not_a_mutant`\n", encoding="utf-8")
    assert report.equivalents(doc) == {"manifests.merge.x_row_keys__mutmut_9",
                                       "manifests.archive.xǁArchiveǁadd__mutmut_2"}


def test_a_mutants_tests_run_fastest_first_by_the_stats_runs_durations(tmp_path: Path) -> None:
    stats = tmp_path / "mutmut-stats.json"
    stats.write_text('{"duration_by_test": {"mutants/tests/a.py::slow": 6.0, "tests/a.py::fast": 0.1}}',
                     encoding="utf-8")
    assert scope.durations(stats) == {"tests/a.py::slow": 6.0, "tests/a.py::fast": 0.1}
    assert scope.durations(tmp_path / "none.json") == {}  # no stats run yet: collection order


class Item:
    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.marks: list[pytest.Mark] = []

    def add_marker(self, mark: pytest.MarkDecorator) -> None:
        self.marks.append(mark.mark)


@pytest.mark.parametrize(("mutant", "limited"), [("curate.dedupe.clusters.x_clusters__mutmut_1", True),
                                                 ("stats", False)])
def test_a_mutants_tests_each_get_a_time_limit(monkeypatch: pytest.MonkeyPatch, mutant: str,
                                              limited: bool) -> None:
    # mutmut limits a mutant's CPU time, which one that deadlocks on a pipe never spends
    monkeypatch.setenv("MUTANT_UNDER_TEST", mutant)
    inside = Item("tests/curate/dedupe/test_clusters.py::test_a")
    items = [inside, Item("tests/train/test_loop.py::test_b")]
    config = SimpleNamespace(rootpath=ROOT, hook=SimpleNamespace(pytest_deselected=lambda items: None))
    scope.pytest_collection_modifyitems(config, items)
    assert inside in items
    expected = [pytest.mark.timeout(scope.MUTANT_TEST_TIMEOUT).mark] if limited else []
    assert inside.marks == expected  # no stats run: the most a test may take


def test_a_tests_time_limit_is_five_times_its_stats_duration_within_10_to_60_s() -> None:
    assert [scope.time_limit(t) for t in (None, 0.1, 2.0, 4.0, 11.9, 12.0, 30.0)] == \
        [60, 10, 10, 20, 59.5, 60, 60]
