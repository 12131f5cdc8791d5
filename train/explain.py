"""What the model looks at: Grad-CAM with torch hooks, and ``review.html`` of its worst calls.

:class:`GradCAM` hooks the arch's ``cam_layer``, weighs its activation maps by the mean gradient of the
chosen logit and returns one map per image, upsampled to the input size and scaled to 0..1. ``review``
picks the most confident mistakes and the least confident predictions from ``predictions.csv`` and
writes a self-contained HTML page (images inlined) with the original file, the model's input, the
heatmap and the overlay side by side — where thin border lines, fog on one street or a brighter
palette show up. The page says which split it shows and the accuracy there; no image is listed twice.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from manifests import images, schema

from .data import load_image, to_input
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
        self.model.eval()
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = self.model(x)
            if logits.shape[1] == 1:  # binary: one logit; class 0 is its negation
                logits = torch.cat([-logits, logits], dim=1)
            if target is None:
                target = logits.argmax(dim=1)
            self.model.zero_grad(set_to_none=True)
            logits.gather(1, target.view(-1, 1)).sum().backward()
        acts, grads = self._as_maps(self._acts.detach()), self._as_maps(self._grads.detach())
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * acts).sum(dim=1, keepdim=True)).float()
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        lo = cam.amin(dim=(1, 2), keepdim=True)
        hi = cam.amax(dim=(1, 2), keepdim=True)
        return ((cam - lo) / (hi - lo).clamp_min(1e-8)).cpu().numpy()

    def __enter__(self) -> GradCAM:
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()


def heatmap(cam: np.ndarray) -> np.ndarray:
    """A 0..1 map as an RGB uint8 image (jet colour map)."""
    rgb = matplotlib.colormaps["jet"](cam)[..., :3]
    return (rgb * 255).astype(np.uint8)


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


def _card(row: pd.Series, source: tuple[np.ndarray, tuple[int, int]] | None, image: np.ndarray,
          cam: np.ndarray, scale: int) -> str:
    verdict = "right" if row[CORRECT] else "wrong"
    caption = (f"{html.escape(str(row[schema.PATH]))}<br>true <b>{html.escape(str(row[schema.LABEL]))}"
               f"</b>, predicted <b class='{verdict}'>{html.escape(str(row[PREDICTION]))}</b> "
               f"({row[CONFIDENCE]:.2f})")
    side = f"{image.shape[1]}x{image.shape[0]}"
    panels = [(f"model input ({side})", image, scale), ("Grad-CAM", heatmap(cam), scale),
              ("overlay", overlay(image, cam), scale)]
    if source is not None:
        panels.insert(0, (f"original ({source[1][0]}x{source[1][1]})", source[0], 1))
    imgs = "".join(f"<figure><img src='{_png(a, s)}'><figcaption>{name}</figcaption></figure>"
                   for name, a, s in panels)
    return f"<div class='card'><p>{caption}</p><div class='row'>{imgs}</div></div>"


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


def review(model: nn.Module, arch: Arch, info: ModelInfo, predictions: pd.DataFrame, root: Path,
           out: Path, k: int = 12, device: torch.device | None = None) -> Path:
    """Write ``review.html``: Grad-CAM for the picked rows (paths relative to ``root``)."""
    device = device or torch.device("cpu")
    pre = info.preprocess
    scale = max(1, 192 // pre.size)
    sections = []
    with GradCAM(model, arch) as cam:
        for title, rows in pick(predictions, k).items():
            cards = []
            for _, row in rows.iterrows():
                image = load_image(root / row[schema.PATH], pre)
                x = to_input(torch.from_numpy(image).permute(2, 0, 1)[None], pre, device)
                maps = cam(x)
                try:
                    source = original(root / row[schema.PATH])
                except images.ImageError as exc:  # the model input decoded, so this is rare
                    log.warning("cannot show the original of %s: %s", row[schema.PATH], exc.error)
                    source = None
                cards.append(_card(row, source, image, maps[0], scale))
            body = "".join(cards) or "<p>none</p>"
            sections.append(f"<h2>{title} ({len(rows)})</h2>{body}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>review: {info.arch}</title>"
            f"<style>{STYLE}</style></head><body><h1>What {info.arch} looks at</h1>"
            f"<p>{summary(predictions)}</p>"
            f"<p>Classes: {html.escape(', '.join(info.classes))}. Each card shows the original file, the "
            f"model's input (resized and cropped as in training) and Grad-CAM on that input: "
            f"<code>{arch.cam_layer}</code> for the predicted class.</p>{''.join(sections)}</body></html>")
    out.write_text(page, encoding="utf-8")
    return out
