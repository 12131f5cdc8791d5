"""What the model looks at: Grad-CAM with torch hooks, and ``review.html`` of its worst calls.

:class:`GradCAM` hooks the arch's ``cam_layer``, weighs its activation maps by the mean gradient of the
chosen logit and returns one map per image, upsampled to the input size and scaled to 0..1. ``review``
picks the most confident mistakes and the least confident predictions from ``predictions.csv`` and
writes a self-contained HTML page (images inlined) with the original file, the model's input, the
heatmap and the overlay side by side — where thin border lines, fog on one street or a brighter
palette show up. The page says which split it shows and the accuracy there; no image is listed twice.
The pictures are read through the run's loaders (:func:`train.loaders.rows_loader`: the decode cache,
``to_input``, the run's autocast and batch size), so the class and probability each card shows are those
of ``predictions.csv`` (each card carries them in ``data-class`` and ``data-p``).
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from manifests import images, schema

from .data import ManifestDataset, to_input
from .device import Context, make_context, probabilities
from .loaders import rows_loader
from .metrics import CONFIDENCE, CORRECT, PREDICTION
from .model import Arch, ModelInfo

log = logging.getLogger(__name__)


class GradCAM:
    """Grad-CAM on one layer; use as a context manager so the hooks are removed."""

    def __init__(self, model: nn.Module, arch: Arch) -> None:
        self.model, self.arch = model, arch
        self._acts: torch.Tensor | None = None
        self._grads: torch.Tensor | None = None
        layer = model.get_submodule(arch.cam_layer)
        self._handles = [layer.register_forward_hook(self._keep)]

    def _keep(self, _module: nn.Module, _inp: object, out: torch.Tensor) -> None:
        self._acts = out
        out.register_hook(self._keep_grad)

    def _keep_grad(self, grad: torch.Tensor) -> None:
        self._grads = grad

    def _as_maps(self, t: torch.Tensor) -> torch.Tensor:
        if not self.arch.tokens:
            return t
        tokens = t[:, 1:, :]  # drop the class token; the rest is a square grid of patches
        side = round(tokens.shape[1] ** 0.5)
        return tokens.reshape(t.shape[0], side, side, t.shape[2]).permute(0, 3, 1, 2)

    def __call__(self, x: torch.Tensor, target: torch.Tensor | None = None) -> np.ndarray:
        """Maps ``(N, H, W)`` in 0..1 for input ``x``; ``target`` classes default to the prediction."""
        return self.run(x, target)[0]

    def run(self, x: torch.Tensor, target: torch.Tensor | None = None,
            autocast: Callable[[], AbstractContextManager] | None = None) -> tuple[np.ndarray, torch.Tensor]:
        """Maps ``(N, H, W)`` and the class probabilities ``(N, C)`` (float32, CPU) of the same forward
        pass, run under ``autocast()`` when given (the run's, as in validation; backward outside it)."""
        self.model.eval()
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            with autocast() if autocast is not None else contextlib.nullcontext():
                logits = self.model(x)
            probs = probabilities(logits, binary=logits.shape[1] == 1)
            if logits.shape[1] == 1:  # binary: one logit; class 0 is its negation
                logits = torch.cat([-logits, logits], dim=1)
            if target is None:
                target = probs.argmax(dim=1)
            self.model.zero_grad(set_to_none=True)
            logits.float().gather(1, target.view(-1, 1)).sum().backward()
        acts = self._as_maps(self._acts.detach()).float()
        grads = self._as_maps(self._grads.detach()).float()
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * acts).sum(dim=1, keepdim=True)).float()
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        lo = cam.amin(dim=(1, 2), keepdim=True)
        hi = cam.amax(dim=(1, 2), keepdim=True)
        return ((cam - lo) / (hi - lo).clamp_min(1e-8)).cpu().numpy(), probs.detach().cpu()

    def __enter__(self) -> GradCAM:
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()


def heatmap(cam: np.ndarray) -> np.ndarray:
    """A 0..1 map as an RGB uint8 image (jet colour map)."""
    import matplotlib  # here: a run that draws no map does not import it

    rgb = matplotlib.colormaps["jet"](cam)[..., :3]
    return (rgb * 255).astype(np.uint8)


def legend() -> str:
    """The Grad-CAM colour scale as HTML: the jet colour map's gradient from low to high, with words."""
    stops = ", ".join("#{:02x}{:02x}{:02x}".format(*heatmap(np.array([v]))[0]) for v in np.linspace(0, 1, 9))
    return ("<p class='legend'>Grad-CAM colours: <span>low</span> <span class='scale' style='display:"
            f"inline-block;width:240px;height:14px;vertical-align:middle;background:linear-gradient(to "
            f"right, {stops})'></span> <span>high</span>: how much each part of the input raised the "
            "score of the predicted class (each map scaled from its own minimum to its maximum).</p>")


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heatmap blended over the image."""
    return (image * (1 - alpha) + heatmap(cam) * alpha).clip(0, 255).astype(np.uint8)


def _png(arr: np.ndarray, scale: int) -> str:
    img = Image.fromarray(arr)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def pick(predictions: pd.DataFrame, k: int) -> dict[str, pd.DataFrame]:
    """The ``k`` most confident mistakes and the ``k`` least confident of the other predictions (an
    image is listed once: a mistake shown in the first section is not repeated in the second)."""
    wrong = predictions[~predictions[CORRECT]].sort_values(CONFIDENCE, ascending=False).head(k)
    rest = predictions.drop(index=wrong.index)
    unsure = rest.sort_values(CONFIDENCE, ascending=True).head(k)
    return {"Most confident mistakes": wrong, "Least confident predictions": unsure}


ORIGINAL_SIDE = 192  # longer side of the original image as shown


def original(path: Path, side: int = ORIGINAL_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
    """The image file as it is (EXIF-rotated, RGB), shrunk to ``side`` for the page; and its size."""
    img = images.decode(path, mode="RGB").image  # the one opener: EXIF-rotated, named failures
    size = img.size
    img.thumbnail((side, side))
    return np.asarray(img), size


@dataclass
class Seen:
    """One explained image: the model's input (HWC uint8), its Grad-CAM map, and the class and
    probability of the forward pass that made the map."""

    image: np.ndarray
    cam: np.ndarray
    predicted: str
    probability: float


def _card(row: pd.Series, source: tuple[np.ndarray, tuple[int, int]] | None, seen: Seen, scale: int) -> str:
    verdict = "right" if seen.predicted == row[schema.LABEL] else "wrong"
    path = html.escape(str(row[schema.PATH]))
    caption = (f"{path}<br>true <b>{html.escape(str(row[schema.LABEL]))}</b>, predicted "
               f"<b class='{verdict}'>{html.escape(seen.predicted)}</b> ({seen.probability:.2f})")
    image = seen.image
    side = f"{image.shape[1]}x{image.shape[0]}"
    panels = [(f"model input ({side})", image, scale), ("Grad-CAM", heatmap(seen.cam), scale),
              ("overlay", overlay(image, seen.cam), scale)]
    if source is not None:
        panels.insert(0, (f"original ({source[1][0]}x{source[1][1]})", source[0], 1))
    imgs = "".join(f"<figure><img src='{_png(a, s)}'><figcaption>{name}</figcaption></figure>"
                   for name, a, s in panels)
    data = (f"data-path='{path}' data-class='{html.escape(seen.predicted)}' "
            f"data-p='{seen.probability:.8f}'")
    return f"<div class='card' {data}><p>{caption}</p><div class='row'>{imgs}</div></div>"


def summary(predictions: pd.DataFrame) -> str:
    """Which split the page shows and the model's accuracy on it."""
    splits = sorted(predictions[schema.SPLIT].dropna().astype(str).unique()) \
        if schema.SPLIT in predictions else []
    where = " and ".join(splits) or "the evaluated"
    n = len(predictions)
    acc = float(predictions[CORRECT].mean()) if n else 0.0
    return (f"Images from the <b>{html.escape(where)}</b> split: accuracy <b>{acc:.1%}</b> on {n} images "
            f"({int((~predictions[CORRECT]).sum())} mistakes).")


STYLE = ("body{font-family:sans-serif;margin:2em}.row{display:flex;gap:8px}.card{margin:1em 0;"
         "padding:.5em;border:1px solid #ccc}figure{margin:0}figcaption{font-size:small;color:#555}"
         ".wrong{color:#b00}.right{color:#070}")


def explain_rows(model: nn.Module, arch: Arch, info: ModelInfo, dataset: ManifestDataset, rows: list[int],
                 ctx: Context, whole: bool | None = None) -> dict[int, Seen]:
    """Grad-CAM for ``rows`` of a split's dataset, read through the run's loaders (the same decode
    cache, ``to_input``, autocast and batch size as validation), so each map, class and probability is
    the model's on exactly the input that ``predictions.csv`` was computed from. On CUDA the maps are
    computed on the very batches validation ran (cheap there, and its kernels depend on the batch);
    elsewhere on the rows alone (float32 on the CPU does not depend on the batch's other images);
    ``whole`` chooses."""
    cuda = ctx.device.type == "cuda"
    batches = rows_loader(dataset, rows, info.batch_size, pin=cuda, whole=cuda if whole is None else whole)
    wanted = set(rows)
    seen: dict[int, Seen] = {}
    with GradCAM(model, arch) as cam:
        for images, _, index in batches:
            x = to_input(images, info.preprocess, ctx.device)
            maps, probs = cam.run(x, autocast=ctx.autocast)
            pictures = images.permute(0, 2, 3, 1).numpy()
            for j, i in enumerate(index.tolist()):
                if i not in wanted:
                    continue
                k = int(probs[j].argmax())
                seen[i] = Seen(pictures[j], maps[j], info.classes[k], float(probs[j, k]))
    return seen


def review(model: nn.Module, arch: Arch, info: ModelInfo, predictions: pd.DataFrame, dataset: ManifestDataset,
           out: Path, k: int = 12, ctx: Context | None = None) -> Path:
    """Write ``review.html``: Grad-CAM for the picked rows of one split's ``predictions`` (its index is
    the row's position in ``dataset``, the split's dataset of the run)."""
    ctx = ctx or make_context(torch.device("cpu"), info.amp, info.preprocess, info.binary, 0.0)
    scale = max(1, 192 // info.preprocess.size)
    picked = pick(predictions, k)
    seen = explain_rows(model, arch, info, dataset, [int(i) for p in picked.values() for i in p.index], ctx)
    sections = []
    for title, rows in picked.items():
        cards = []
        for i, row in rows.iterrows():
            if seen[i].predicted != row[PREDICTION]:
                log.warning("%s: Grad-CAM's pass predicts %s, predictions.csv says %s", row[schema.PATH],
                            seen[i].predicted, row[PREDICTION])
            try:
                source = original(dataset.paths[i])
            except images.ImageError as exc:  # the model input decoded, so this is rare
                log.warning("cannot show the original of %s: %s", row[schema.PATH], exc.error)
                source = None
            cards.append(_card(row, source, seen[i], scale))
        body = "".join(cards) or "<p>none</p>"
        sections.append(f"<h2>{title} ({len(rows)})</h2>{body}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>review: {info.arch}</title>"
            f"<style>{STYLE}</style></head><body><h1>What {info.arch} looks at</h1>"
            f"<p>{summary(predictions)}</p>"
            f"<p>Classes: {html.escape(', '.join(info.classes))}. Each card shows the original file, the "
            f"model's input (resized and cropped as in training, read by the run's loader) and Grad-CAM on "
            f"that input: <code>{arch.cam_layer}</code> for the predicted class, under the run's autocast "
            f"({html.escape(info.amp)}).</p>{legend()}{''.join(sections)}</body></html>")
    out.write_text(page, encoding="utf-8")
    return out
