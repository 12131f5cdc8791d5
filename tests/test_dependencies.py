"""The dependency rules of pyproject.toml's ``[tool.importlinter]`` hold (harvest, curate and train
import only manifests; no import cycles), and break on a planted ``import train`` in curate."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("manifests", "harvest", "curate", "train")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    return subprocess.run([str(exe), "--no-cache"], cwd=tree, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})


def test_the_contracts_hold() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_a_planted_import_of_train_in_curate_breaks_them(tmp_path: Path) -> None:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    stats = tmp_path / "curate" / "stats.py"
    stats.write_text(stats.read_text(encoding="utf-8") + "\n\ndef _planted() -> None:\n    import train\n",
                     encoding="utf-8")
    done = lint_imports(tmp_path)
    assert done.returncode == 1 and "curate is not allowed to import train" in done.stdout
    assert "curate.stats -> train" in done.stdout
