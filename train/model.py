"""Models by name: building the architectures of :mod:`train.archs`, their heads, weights and preprocessing.

``ARCHS`` (in :mod:`train.archs`, re-exported here) is the registry: each :class:`Arch` names the
torchvision builder, the final linear layer, the Grad-CAM layer and any input size the architecture
fixes; ``timm/<name>`` names any timm model (the ``timm`` extra). ``build_model`` builds one with
``--weights imagenet`` (the arch's recommended torchvision weights and *their* preprocessing), ``none``
(random init) or a PATH to a state dict (a plain one, or a ``model.pt`` this package wrote).
``save_model``/``load_model`` write and read ``model.pt``: weights, arch, class names and
preprocessing, enough to predict with no manifest.
"""

from __future__ import annotations

import logging
import urllib.error
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from manifests import InputError, NetworkError, UsageError

from .archs import ARCHS, TIMM_PREFIX, Arch, get_arch, timm_arch  # noqa: F401 - re-exported (they live there)

log = logging.getLogger(__name__)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


MAX_INPUT_SIDE = 4096  # pixels: the largest input side a model.pt may ask for (20000 would be 4.8 GB/image)


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes model input: resize the shorter side, centre-crop a square, normalise."""

    size: int
    resize: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocess:
        return cls(int(data["size"]), int(data["resize"]), tuple(data["mean"]), tuple(data["std"]))


def num_outputs(n_classes: int, binary: bool) -> int:
    """Logits the head needs: one for ``--binary`` (BCEWithLogits), else one per class."""
    if binary and n_classes != 2:
        raise UsageError(f"--binary needs exactly 2 classes, the manifest has {n_classes}")
    return 1 if binary else n_classes


def preprocess_for(arch: Arch, weights: str, img_size: int | None) -> Preprocess:
    """Preprocessing for the arch: imagenet weights bring their own resize/crop ratio, mean and std."""
    if arch.source == "timm" and weights == "imagenet":
        import timm
        cfg = timm.get_pretrained_cfg(arch.name[len(TIMM_PREFIX):])
        crop = int(cfg.input_size[-1])
        size = img_size or crop
        return Preprocess(size, round(size / (cfg.crop_pct or 0.875)), tuple(cfg.mean), tuple(cfg.std))
    if weights == "imagenet":
        tf = torchvision.models.get_model_weights(arch.name).DEFAULT.transforms()
        crop, resize = int(tf.crop_size[0]), int(tf.resize_size[0])
        size = img_size or crop
        if arch.patch and size != crop:
            raise UsageError(f"{arch.name} with imagenet weights needs --img-size {crop}")
        return Preprocess(size, round(size * resize / crop), tuple(tf.mean), tuple(tf.std))
    size = img_size or 224
    if arch.patch and size % arch.patch:
        raise UsageError(f"{arch.name} needs an --img-size that is a multiple of {arch.patch}")
    return Preprocess(size, size)


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def replace_head(model: nn.Module, arch: Arch, outputs: int) -> nn.Linear:
    """Swap the arch's final linear layer for a fresh one with ``outputs`` logits."""
    old = model.get_submodule(arch.head)
    new = nn.Linear(old.in_features, outputs)
    _set_submodule(model, arch.head, new)
    return new


def imagenet_state(arch: Arch) -> dict[str, torch.Tensor]:
    """The recommended ImageNet weights from torchvision's cache, downloading them when allowed.

    A one-line :class:`NetworkError` says where the file belongs and how to fetch it when it is not
    cached and cannot be downloaded.
    """
    weights = torchvision.models.get_model_weights(arch.name).DEFAULT
    target = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    try:
        return weights.get_state_dict(progress=False, check_hash=False)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NetworkError(
            f"ImageNet weights for {arch.name} ({weights}) are not cached at {target} and cannot be "
            f"downloaded ({reason}); fetch {weights.url} into that folder on a connected machine, "
            f"or pass --weights PATH (a state dict) or --weights none") from exc


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a file: a plain state dict or a ``model.pt`` written by :func:`save_model`."""
    if not path.is_file():
        raise InputError(f"weights file {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise InputError(f"cannot read weights file {path}: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise InputError(f"weights file {path} does not hold a state dict")
    return data


def load_matching(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> int:
    """Load every tensor whose name and shape fit; a file that fits no backbone layer is an error."""
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not fitting or len(fitting) < len(own) // 2:
        raise InputError(f"weights {source} do not fit this architecture "
                         f"({len(fitting)} of {len(own)} tensors match)")
    model.load_state_dict(fitting, strict=False)
    skipped = len(own) - len(fitting)
    log.info("loaded %d tensors from %s (%d left as initialised)", len(fitting), source, skipped)
    return len(fitting)


def build_model(arch_name: str, outputs: int, weights: str = "imagenet",
                image_size: int | None = None) -> nn.Module:
    """Build ``arch_name`` with ``outputs`` logits and weights ``imagenet``, ``none`` or a file path.

    ``image_size`` builds a patch model (ViT) for that input size; ImageNet weights fix it at 224.
    """
    arch = get_arch(arch_name)
    if arch.source == "timm":
        return _build_timm(arch, outputs, weights, image_size)
    sized = arch.patch and weights != "imagenet" and image_size not in (None, 224)
    model = torchvision.models.get_model(arch.name, weights=None,
                                         **({"image_size": image_size} if sized else {}))
    if weights == "imagenet":
        model.load_state_dict(imagenet_state(arch))
    replace_head(model, arch, outputs)
    if weights not in ("imagenet", "none"):
        load_matching(model, read_state(Path(weights)), str(weights))
    return model


def _build_timm(arch: Arch, outputs: int, weights: str, image_size: int | None) -> nn.Module:
    import timm
    kwargs = {"img_size": image_size} if arch.patch and image_size else {}
    try:
        model = timm.create_model(arch.name[len(TIMM_PREFIX):], pretrained=weights == "imagenet",
                                  num_classes=outputs, **kwargs)
    except (OSError, RuntimeError) as exc:
        if weights != "imagenet":
            raise
        raise NetworkError(f"pretrained weights for {arch.name} cannot be loaded ({exc}); pass "
                           f"--weights none or a PATH") from exc
    if weights not in ("imagenet", "none"):
        load_matching(model, read_state(Path(weights)), str(weights))
    return model


def param_groups(model: nn.Module, arch: Arch, n_groups: int = 3) -> list[list[nn.Parameter]]:
    """Parameters in order from input to output: ``n_groups - 1`` backbone chunks, then the head."""
    head = list(model.get_submodule(arch.head).parameters())
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in head_ids]
    chunks = max(1, n_groups - 1)
    size = -(-len(body) // chunks)
    return [body[i:i + size] for i in range(0, len(body), size)] + [head]


def set_frozen(model: nn.Module, arch: Arch, frozen: bool) -> None:
    """Freeze (or unfreeze) everything but the head."""
    head_ids = {id(p) for p in model.get_submodule(arch.head).parameters()}
    for p in model.parameters():
        p.requires_grad_(not frozen or id(p) in head_ids)


@dataclass(frozen=True)
class ModelInfo:
    """What ``model.pt`` records besides the weights."""

    arch: str
    classes: tuple[str, ...]
    binary: bool
    preprocess: Preprocess
    amp: str = "off"  # what training evaluated with: prediction uses the same autocast
    batch_size: int = 64  # and the same batch size
    decode_size: int | None = None  # images decoded to this square, then resized (--cache-size)


def save_model(path: Path, model: nn.Module, info: ModelInfo) -> None:
    """Write ``model.pt``: weights on CPU, arch, class names, binary flag and preprocessing."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"state_dict": state, "arch": info.arch, "classes": list(info.classes),
               "binary": info.binary, "preprocess": info.preprocess.to_dict(), "amp": info.amp,
               "batch_size": info.batch_size, "decode_size": info.decode_size, "format": 1}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_model(path: Path) -> tuple[nn.Module, ModelInfo]:
    """Rebuild the model a ``model.pt`` describes, in eval mode on the CPU."""
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read model file {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict) or "arch" not in data or "state_dict" not in data:
        raise InputError(f"{path} is not a model written by `train` (no arch/state_dict)")
    info = model_info(data, path)
    model = build_model(info.arch, num_outputs(len(info.classes), info.binary), "none",
                        info.preprocess.size)
    try:
        model.load_state_dict(data["state_dict"])
    except (RuntimeError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: its weights do not fit a {info.arch}: "
                         f"{str(exc).splitlines()[0][:200]}") from None
    return model.eval(), info


def model_info(data: dict[str, Any], path: Path) -> ModelInfo:
    """The description a ``model.pt`` holds, checked: an arch name, class names (text, at least one),
    a preprocessing whose sizes are in [1, ``MAX_INPUT_SIDE``]. Raises InputError naming what is wrong."""
    try:
        classes, pre = data["classes"], data["preprocess"]
        if not isinstance(data["arch"], str) or not isinstance(classes, list | tuple) or not classes \
                or not all(isinstance(c, str) for c in classes):
            raise ValueError("'arch' must be a name and 'classes' a list of class names")
        preprocess = Preprocess.from_dict(pre)
        sides = [preprocess.size, preprocess.resize, data.get("decode_size") or 1]
        if not all(isinstance(v, int) and 1 <= v <= MAX_INPUT_SIDE for v in sides):
            raise ValueError(f"preprocess sizes {sides} are not in [1, {MAX_INPUT_SIDE}] pixels")
        if len(preprocess.mean) != 3 or len(preprocess.std) != 3:
            raise ValueError("preprocess mean and std need 3 values each")
        return ModelInfo(data["arch"], tuple(classes), bool(data["binary"]), preprocess,
                         str(data.get("amp", "off")), max(1, int(data.get("batch_size", 64))),
                         data.get("decode_size"))
    except KeyError as exc:
        raise InputError(f"{path} is not a model written by `train`: no {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path} is not a model written by `train`: {exc}") from None
