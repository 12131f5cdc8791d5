"""What training and prediction share at run time: the device choice and logits -> probabilities
(softmax over N logits, or ``[1 - p, p]`` from the single ``--binary`` logit)."""

from __future__ import annotations

import torch

from manifests import InputError


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
