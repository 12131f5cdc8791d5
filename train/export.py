"""``train export``: a run's ``model.pt`` as ONNX or TorchScript for serving, checked after writing.

The exported model takes a float batch ``image`` of shape ``(N, 3, S, S)``, already normalised with the
run's mean and std (see ``preprocess`` in the metadata), and returns ``logits`` ``(N, outputs)``; the
batch dimension is dynamic. Class names, the binary flag and the preprocessing travel inside the file
(ONNX ``metadata_props``; TorchScript ``_extra_files["gleanset.json"]``). After writing, the file is
loaded back (onnxruntime, ``torch.jit.load``) and its outputs on random inputs compared with the
PyTorch model's; a difference above the tolerance is an error and the file is removed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from manifests import GleansetError, InputError, UsageError

from .model import ModelInfo, load_model

log = logging.getLogger(__name__)

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
TOLERANCE = 1e-4


@dataclass
class Exported:
    """Where the model was written and how closely the loaded-back file matches PyTorch."""

    path: Path
    format: str
    max_abs_diff: float


def model_path(run: Path) -> Path:
    """``run/model.pt`` for a run folder, or the file itself."""
    path = run / "model.pt" if run.is_dir() else run
    if not path.is_file():
        raise InputError(f"{path} does not exist: export takes a run folder (runs/NAME) or its model.pt")
    return path


def metadata(info: ModelInfo) -> dict[str, str]:
    return {"classes": json.dumps(list(info.classes)), "binary": json.dumps(info.binary),
            "preprocess": json.dumps(info.preprocess.to_dict()), "arch": info.arch}


def export(run: Path, fmt: str = "onnx", out: Path | None = None, seed: int = 0) -> Exported:
    """Write ``model.onnx`` / ``model.torchscript.pt`` beside ``model.pt`` (or at ``out``) and check it."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; choose {' or '.join(FORMATS)}")
    source = model_path(run)
    model, info = load_model(source)
    model = model.float().eval()
    target = out or source.with_name("model" + FORMATS[fmt])
    size = info.preprocess.size
    gen = torch.Generator().manual_seed(seed)
    example = torch.randn(2, 3, size, size, generator=gen)
    check = torch.randn(3, 3, size, size, generator=gen)  # another batch size: the axis is dynamic
    with torch.inference_mode():
        expected = model(check).numpy()
    if fmt == "onnx":
        got = _onnx(model, example, check, target, info)
    else:
        got = _torchscript(model, example, check, target, info)
    diff = float(np.abs(got - expected).max())
    if diff > TOLERANCE:
        target.unlink(missing_ok=True)
        raise GleansetError(f"exported {fmt} model differs from PyTorch by {diff:.2e} (> {TOLERANCE}); "
                            f"nothing written")
    log.info("exported %s to %s (max |diff| %.2e)", fmt, target, diff)
    return Exported(target, fmt, diff)


def _onnx(model: torch.nn.Module, example: torch.Tensor, check: torch.Tensor, target: Path,
          info: ModelInfo) -> np.ndarray:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise UsageError("--format onnx needs onnx and onnxruntime: pip install 'gleanset[export]'") from None
    torch.onnx.export(model, (example,), str(target), dynamo=False, input_names=["image"],
                      output_names=["logits"], opset_version=17,
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load(str(target))
    for key, value in metadata(info).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(target))
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"image": check.numpy()})[0]


def _torchscript(model: torch.nn.Module, example: torch.Tensor, check: torch.Tensor, target: Path,
                 info: ModelInfo) -> np.ndarray:
    with torch.inference_mode(False), torch.no_grad():
        traced = torch.jit.trace(model, example)
    torch.jit.save(traced, str(target), _extra_files={"gleanset.json": json.dumps(metadata(info))})
    loaded = torch.jit.load(str(target), map_location="cpu")
    with torch.no_grad():
        return loaded(check).numpy()
