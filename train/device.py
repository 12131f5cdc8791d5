"""What training and prediction share at run time: the device choice, mixed precision (``--amp``), the
per-step :class:`Context`, the batch-size probe of ``--batch-size 0`` and logits -> probabilities
(softmax over N logits, or ``[1 - p, p]`` from the single ``--binary`` logit)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from manifests import InputError, UsageError

from .model import Preprocess

log = logging.getLogger(__name__)


def probabilities(logits: torch.Tensor, binary: bool) -> torch.Tensor:
    """Class probabilities from logits (float32, on the logits' device)."""
    logits = logits.float()
    if binary:
        p = torch.sigmoid(logits[:, 0])
        return torch.stack([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when available, else the CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(name)


@dataclass
class Context:
    """What every step needs: device, AMP dtype and scaler, preprocessing, loss."""

    device: torch.device
    amp: torch.dtype | None
    pre: Preprocess
    binary: bool
    loss_fn: nn.Module
    scaler: torch.amp.GradScaler | None = None
    augment: Any = None  # DeviceAugment for training batches, or None

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.binary:
            return self.loss_fn(logits[:, 0].float(), targets.float())
        return self.loss_fn(logits.float(), targets)


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """``auto``: bf16 on CUDA where supported, else fp16 on CUDA, off on the CPU."""
    if mode == "off":
        return None
    if mode == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if mode == "fp16" and device.type != "cuda":
        raise UsageError("--amp fp16 needs a CUDA device; use --amp bf16 or off on the CPU")
    if mode not in ("bf16", "fp16"):
        raise UsageError(f"unknown --amp {mode!r}; choose auto, bf16, fp16 or off")
    return torch.bfloat16 if mode == "bf16" else torch.float16


def make_context(device: torch.device, amp: str, pre: Preprocess, binary: bool,
                 label_smoothing: float) -> Context:
    dtype = resolve_amp(amp, device)
    loss_fn = nn.BCEWithLogitsLoss() if binary else nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return Context(device, dtype, pre, binary, loss_fn, scaler)


def auto_batch_size(model: nn.Module, ctx: Context, limit: int) -> int:
    """The largest power of two (16..1024) whose train step fits on the GPU; 32 on the CPU."""
    if ctx.device.type != "cuda":
        return max(1, min(32, limit))
    best, size = 8, 16
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}  # BatchNorm stats survive
    model.train()
    while size <= min(1024, max(16, limit)):
        try:
            x = torch.randn(size, 3, ctx.pre.size, ctx.pre.size, device=ctx.device)
            with ctx.autocast():
                out = model(x.contiguous(memory_format=torch.channels_last))
            out.float().mean().backward()
            best, size = size, size * 2
        except torch.OutOfMemoryError:
            break
        finally:
            model.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
    model.load_state_dict(saved)
    log.info("batch size auto: %d", best)
    return max(1, min(best, limit))
