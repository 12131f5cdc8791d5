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


@pytest.mark.parametrize(("key", "value"), [("epochs", "ten"), ("lr", [1]), ("binary", "yes"),
                                            ("cache_dir", 5), ("img_size", True), ("augment", {})])
def test_a_config_with_wrong_types_is_one_line(tmp_path: Path, capsys, key: str, value: object) -> None:
    import json

    from train.cli import main

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"manifest": str(tmp_path / "m.csv"), "arch": "resnet18", key: value}))
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(config), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exc.value.code == 4 and f"'{key}' is" in err and "Traceback" not in err
