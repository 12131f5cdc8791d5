"""Augmentation of whole batches on the device, with parameters drawn per image.

The loader hands over cached ``uint8`` squares; :class:`DeviceAugment` then crops, flips and jitters the
batch where the model runs (the GPU when there is one), so no CPU worker touches pixels after the first
epoch. ``light``: a random resized crop (70-100% of the area, aspect 3/4..4/3, one ``grid_sample`` for
the batch) and a horizontal flip; ``strong``: 40-100% of the area plus brightness, contrast and
saturation jitter (0.4). Input and output are float ``NCHW`` in 0..1, before normalisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KINDS = ("none", "light", "strong")
SCALES = {"light": (0.7, 1.0), "strong": (0.4, 1.0)}


class DeviceAugment:
    """Random resized crop + flip (+ colour jitter for ``strong``) of a float batch on its device."""

    def __init__(self, kind: str, seed: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown augmentation {kind!r}")
        self.kind = kind
        self.gen: torch.Generator | None = None
        self.seed = seed

    def _rand(self, n: int, device: torch.device) -> torch.Tensor:
        if self.gen is None or self.gen.device != device:
            self.gen = torch.Generator(device=device).manual_seed(self.seed)
        return torch.rand(n, device=device, generator=self.gen)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return x
        n, dev = x.shape[0], x.device
        lo, hi = SCALES[self.kind]
        area = lo + (hi - lo) * self._rand(n, dev)
        log_ratio = (self._rand(n, dev) * 2 - 1) * math.log(4 / 3)
        ratio = torch.exp(log_ratio)
        sx = torch.sqrt(area * ratio).clamp(max=1.0)  # crop width / image width
        sy = torch.sqrt(area / ratio).clamp(max=1.0)
        tx = (self._rand(n, dev) * 2 - 1) * (1 - sx)  # centre offsets keep the crop inside
        ty = (self._rand(n, dev) * 2 - 1) * (1 - sy)
        flip = torch.where(self._rand(n, dev) < 0.5, -1.0, 1.0)
        theta = torch.zeros(n, 2, 3, device=dev)
        theta[:, 0, 0], theta[:, 0, 2] = sx * flip, tx
        theta[:, 1, 1], theta[:, 1, 2] = sy, ty
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        if self.kind == "strong":
            out = self._jitter(out)
        return out.clamp_(0, 1)

    def _jitter(self, x: torch.Tensor) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        b, c, s = (1 + (self._rand(n, dev) * 2 - 1) * 0.4 for _ in range(3))
        x = x * b.view(n, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * c.view(n, 1, 1, 1) + mean
        grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        return (x - grey) * s.view(n, 1, 1, 1) + grey
