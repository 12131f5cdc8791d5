"""The architectures ``train`` knows by name: the registry, without importing PyTorch.

``ARCHS`` maps each torchvision architecture to its :class:`Arch`: the builder, the dotted path of the
final linear layer (replaced by a fresh one with the dataset's outputs), the layer Grad-CAM hooks and
any input size it fixes. ``timm/<name>`` names any timm model (the ``timm`` extra): its :class:`Arch`
is read from a shape-only instance. The CLI checks ``--arch`` here before it loads PyTorch, so a
misspelt name is a usage error at once, not after seconds of imports; :mod:`train.model` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from manifests import UsageError


@dataclass(frozen=True)
class Arch:
    """One registered architecture.

    Attributes:
        name: torchvision builder name (``torchvision.models.get_model``).
        head: dotted path of the final ``nn.Linear``; replaced by one with the dataset's outputs.
        cam_layer: dotted path of the module whose activations Grad-CAM weighs.
        tokens: the cam layer outputs ``(B, 1 + H*W, C)`` tokens (ViT) rather than ``(B, C, H, W)``.
        patch: input sides must be a multiple of this (ViT patch size); 0 when any size works.
    """

    name: str
    head: str
    cam_layer: str
    tokens: bool = False
    patch: int = 0
    source: str = "torchvision"


ARCHS: dict[str, Arch] = {a.name: a for a in (
    Arch("resnet18", "fc", "layer4"),
    Arch("resnet34", "fc", "layer4"),
    Arch("resnet50", "fc", "layer4"),
    *(Arch(f"efficientnet_b{i}", "classifier.1", "features") for i in range(4)),
    Arch("convnext_tiny", "classifier.2", "features"),
    Arch("mobilenet_v3_large", "classifier.3", "features"),
    Arch("vit_b_16", "heads.head", "encoder.layers.encoder_layer_11.ln_1", tokens=True, patch=16),
)}


TIMM_PREFIX = "timm/"


def get_arch(name: str) -> Arch:
    """The registered architecture called ``name`` (or ``timm/<model>``); a usage error lists them."""
    if name.startswith(TIMM_PREFIX):
        return timm_arch(name)
    try:
        return ARCHS[name]
    except KeyError:
        raise UsageError(f"unknown --arch {name!r}; choose one of {', '.join(ARCHS)} or timm/<name> "
                         f"(any timm model, with the timm extra)") from None


def timm_arch(name: str) -> Arch:
    """The :class:`Arch` of a timm model, read from a shape-only (meta) instance of it."""
    try:
        import timm
    except ImportError:
        raise UsageError(f"--arch {name} needs timm: pip install 'gleanset[timm]'") from None
    model_name = name[len(TIMM_PREFIX):]
    if not timm.is_model(model_name):
        raise UsageError(f"timm has no model {model_name!r} (see timm.list_models())")
    import torch

    with torch.device("meta"):
        net = timm.create_model(model_name, pretrained=False)
    prefix = int(getattr(net, "num_prefix_tokens", 0) or 0)
    patch = getattr(getattr(net, "patch_embed", None), "patch_size", (0,))[0] if prefix else 0
    return Arch(name, net.pretrained_cfg["classifier"], net.feature_info[-1]["module"],
                tokens=prefix > 0, patch=int(patch), source="timm")


def check_name(name: str) -> None:
    """A usage error for an ``--arch`` that is neither registered nor ``timm/<name>`` (no import of
    torch or timm: a timm model's name is checked when it is built)."""
    if not name.startswith(TIMM_PREFIX):
        get_arch(name)
