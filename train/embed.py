"""Image embeddings from the trainer's backbone: :func:`embed`, the public function curate calls.

``embed(paths, arch, weights)`` returns one L2-normalised feature vector per image: the input of the
model's final linear layer (the head), after the same preprocessing the trainer uses. ``weights`` is
``imagenet`` (torchvision's recommended weights for the arch), ``none`` (random: useless except in
tests), a state dict, or a ``model.pt`` written by ``train`` (its own arch and preprocessing are then
used, so a model trained on the dataset embeds it). Unreadable images get a row of NaN.

:func:`embed_manifest` (``train embed MANIFEST``) embeds a manifest's images into a features file keyed
by sha256 (:mod:`manifests.features`), only those not in it yet: what ``curate dedupe --method
embedding`` reads, so curate never imports train.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import manifests
from manifests import features, schema
from manifests.images import ImageError
from manifests.progress import NoProgress, Progress

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
          img_size: int | None = None, device: str = "auto", batch_size: int = 64,
          progress: Progress | None = None) -> np.ndarray:
    """L2-normalised backbone features, ``len(paths) x dim`` float32; NaN rows for unreadable files."""
    progress = progress or NoProgress()
    progress.total(len(paths), f"embedding ({arch})")
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
                except (OSError, ValueError, ImageError) as exc:  # a NaN row, not a crash
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
            progress.advance(len(chunk))
    finally:
        hook.remove()
    return out if out is not None else np.full((len(paths), 0), np.nan, dtype=np.float32)


EMBEDDED = (schema.OK, schema.DUPLICATE)  # the rows embed_manifest embeds (those curate dedupe considers)


@dataclass
class Embedded:
    """What :func:`embed_manifest` did: the features file, rows embedded now, reused and unreadable."""

    path: Path
    embedded: int
    reused: int
    unreadable: int


def embed_manifest(manifest: Path, out: Path | None = None, arch: str = "resnet18", weights: str = "imagenet",
                   img_size: int | None = None, device: str = "auto", root: Path | None = None,
                   progress: Progress | None = None) -> Embedded:
    """Embed the images of a manifest's ok (and duplicate) rows into a features file keyed by sha256.

    Images are found relative to ``root`` (default: the manifest's folder); ``out`` defaults to
    :func:`manifests.features.default_path` there. Rows already in ``out`` with the same backbone and
    weights are not embedded again.
    """
    frame = manifests.read(manifest)
    root = root or manifest.resolve().parent
    info = features.meta(arch, weights, img_size)
    out = out or features.default_path(root, info)
    rows = frame[frame[schema.STATUS].isin(EMBEDDED) & frame[schema.PATH].notna()
                 & frame[schema.SHA256].notna()]
    rows = rows.drop_duplicates(schema.SHA256)
    keys = rows[schema.SHA256].astype(str).tolist()
    old = features.read(out) if out.is_file() else None
    if old is not None and old.meta != info:
        log.info("%s holds features of another backbone or weights: embedding again", out)
        old = None
    have = set(old.keys.tolist()) if old is not None else set()
    todo = [(k, p) for k, p in zip(keys, rows[schema.PATH].astype(str), strict=True) if k not in have]
    new = embed([root / p for _, p in todo], arch, weights, img_size, device, progress=progress)
    parts_keys = [k for k, _ in todo]
    matrix = new
    if old is not None and len(old.keys):
        if new.shape[1] == 0:
            new = np.full((len(todo), old.matrix.shape[1]), np.nan, dtype=np.float32)
        parts_keys = [*old.keys.tolist(), *parts_keys]
        matrix = np.concatenate([old.matrix, new]) if len(todo) else old.matrix
    features.write(out, parts_keys, matrix, info)
    unreadable = int(np.isnan(new).any(axis=1).sum()) if new.size else len(todo)
    return Embedded(out, len(todo) - unreadable, len(keys) - len(todo), unreadable)
