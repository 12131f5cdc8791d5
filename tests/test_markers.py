"""Every test that asks for a CUDA device carries the ``gpu`` marker, so ``pytest -m gpu`` runs them all on
a GPU machine and tests/conftest.py skips them (with the reason) where torch sees no CUDA device."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _asks_for_cuda(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str)
               and (n.value == "cuda" or n.value.startswith("cuda:")) for n in ast.walk(node))


def _marked_gpu(decorators: list[ast.expr]) -> bool:
    return any("gpu" in ast.unparse(d).split(".") for d in decorators)


def test_every_cuda_test_is_marked_gpu():
    unmarked, found = [], 0
    for file in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        module_gpu = any(isinstance(n, ast.Assign) and "pytest.mark.gpu" in ast.unparse(n.value)
                         and any(getattr(t, "id", "") == "pytestmark" for t in n.targets) for n in tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and _asks_for_cuda(node):
                found += 1
                if not (module_gpu or _marked_gpu(node.decorator_list)):
                    unmarked.append(f"{file.relative_to(TESTS)}::{node.name}")
    assert found >= 6  # the GPU tests of test_cache, test_explain, test_scale and test_gpu
    assert not unmarked, f"tests that use CUDA without @pytest.mark.gpu: {unmarked}"
