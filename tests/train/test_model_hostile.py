"""A crafted ``model.pt`` (no classes, a 20000-pixel input, wrong types) is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from manifests import InputError
from train.model import load_model

GOOD = {"arch": "resnet18", "state_dict": {}, "classes": ["a", "b"], "binary": False,
        "preprocess": {"size": 32, "resize": 36, "mean": [0.5] * 3, "std": [0.2] * 3}, "format": 1}


@pytest.mark.parametrize(("change", "said"), [
    ({"classes": None}, "'classes'"),
    ({"classes": "ab"}, "class names"),
    ({"preprocess": {**GOOD["preprocess"], "size": 20000}}, "not in [1, 4096]"),
    ({"preprocess": {**GOOD["preprocess"], "resize": "big"}}, "invalid literal"),
    ({"preprocess": {"size": 32}}, "'resize'"),
    ({"state_dict": {"fc.weight": torch.zeros(3)}}, "do not fit a resnet18"),
])
def test_a_crafted_model_file_is_one_clear_error(tmp_path: Path, change: dict, said: str) -> None:
    data = {**GOOD, **change}
    if change.get("classes", "") is None:
        del data["classes"]
    path = tmp_path / "model.pt"
    torch.save(data, path)
    with pytest.raises(InputError) as exc:
        load_model(path)
    assert said in str(exc.value) and "\n" not in str(exc.value)
