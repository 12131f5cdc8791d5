"""Image embeddings from the trainer's backbone: :func:`embed`, the public function curate calls.

``embed(paths, arch, weights)`` returns one L2-normalised feature vector per image: the input of the
model's final linear layer (the head), after the same preprocessing the trainer uses. ``weights`` is
``imagenet`` (torchvision's recommended weights for the arch), ``none`` (random: useless except in
tests), a state dict, or a ``model.pt`` written by ``train`` (its own arch and preprocessing are then
used, so a model trained on the dataset embeds it). Unreadable images get a row of NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .data import load_image, to_input
from .device import pick_device
from .model import build_model, get_arch, load_model, preprocess_for

log = logging.getLogger(__name__)


def _is_run_model(weights: str) -> bool:
    path = Path(weights)
    if weights in ("imagenet", "none") or not path.is_file():
        return False
    data = torch.load(path, map_location="cpu", weights_only=True)
    return isinstance(data, dict) and "arch" in data and "state_dict" in data


def _model(arch: str, weights: str, img_size: int | None):
    if _is_run_model(weights):
        model, info = load_model(Path(weights))
        return model, get_arch(info.arch), info.preprocess
    spec = get_arch(arch)
    pre = preprocess_for(spec, weights, img_size)
    return build_model(arch, 1, weights, pre.size).eval(), spec, pre


def embed(paths: Sequence[str | Path], arch: str = "resnet18", weights: str = "imagenet",
          img_size: int | None = None, device: str = "auto", batch_size: int = 64) -> np.ndarray:
    """L2-normalised backbone features, ``len(paths) x dim`` float32; NaN rows for unreadable files."""
    model, spec, pre = _model(arch, weights, img_size)
    dev = pick_device(device)
    model = model.to(dev).to(memory_format=torch.channels_last)
    captured: list[torch.Tensor] = []
    hook = model.get_submodule(spec.head).register_forward_hook(
        lambda _m, inputs, _o: captured.append(inputs[0].detach().float().cpu()))
    out: np.ndarray | None = None
    try:
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:start + batch_size]
            images, good = [], []
            for i, path in enumerate(chunk):
                try:
                    images.append(load_image(Path(path), pre))
                    good.append(start + i)
                except (OSError, ValueError) as exc:
                    log.warning("%s: cannot embed: %s", path, exc)
            if not images:
                continue
            batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
            with torch.inference_mode():
                model(to_input(batch, pre, dev))
            feats = torch.nn.functional.normalize(captured.pop().flatten(1), dim=1).numpy()
            if out is None:
                out = np.full((len(paths), feats.shape[1]), np.nan, dtype=np.float32)
            out[good] = feats
    finally:
        hook.remove()
    return out if out is not None else np.full((len(paths), 0), np.nan, dtype=np.float32)
