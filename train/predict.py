"""Using a trained ``model.pt``: predict image files or folders, or evaluate on a manifest's split.

Everything needed comes from the file itself (arch, class names, preprocessing, binary head), so a model
predicts with no manifest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from manifests import InputError, schema
from manifests.images import ImageError, is_image_name

from .data import load_image, load_table, to_input
from .device import pick_device, probabilities
from .metrics import CONFIDENCE, PREDICTION, evaluate, predictions_frame
from .model import ModelInfo, load_checkpoint

log = logging.getLogger(__name__)


@dataclass
class Predictor:
    """A loaded ``model.pt`` on a device."""

    model: torch.nn.Module
    info: ModelInfo
    device: torch.device

    @classmethod
    def load(cls, path: Path, device: str = "auto") -> Predictor:
        model, info = load_checkpoint(path)
        dev = pick_device(device)
        return cls(model.to(dev).to(memory_format=torch.channels_last), info, dev)

    @torch.inference_mode()
    def predict_arrays(self, images: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Probabilities ``(N, classes)`` for preprocessed HWC uint8 images."""
        out = []
        for i in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.stack(images[i:i + batch_size])).permute(0, 3, 1, 2)
            x = to_input(batch, self.info.preprocess, self.device)
            out.append(probabilities(self.model(x), self.info.binary).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.info.classes)))


def image_files(inputs: list[Path]) -> list[Path]:
    """Files named, plus image files found under folders named (sorted)."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if is_image_name(p))
        elif item.is_file():
            files.append(item)
        else:
            raise InputError(f"{item} does not exist")
    if not files:
        raise InputError(f"no image files in {', '.join(map(str, inputs))}")
    return files


def predict_paths(model_path: Path, inputs: list[Path], device: str = "auto",
                  batch_size: int = 64) -> pd.DataFrame:
    """Predict image files/folders: path, prediction, confidence, p_<class>..., error."""
    predictor = Predictor.load(model_path, device)
    classes = predictor.info.classes
    images, good, bad = [], [], []
    for path in image_files(inputs):
        try:
            images.append(load_image(path, predictor.info.preprocess))
            good.append(path)
        except ImageError as exc:
            bad.append({schema.PATH: str(path), schema.ERROR: exc.error})
    probs = predictor.predict_arrays(images, batch_size)
    frame = pd.DataFrame({schema.PATH: [str(p) for p in good],
                          PREDICTION: [classes[i] for i in probs.argmax(axis=1)] if len(good) else [],
                          CONFIDENCE: probs.max(axis=1).round(6) if len(good) else []})
    for i, name in enumerate(classes):
        frame[f"p_{name}"] = probs[:, i].round(6)
    if bad:
        frame = pd.concat([frame, pd.DataFrame(bad)], ignore_index=True)
    return frame


def evaluate_manifest(model_path: Path, manifest: Path, split: str = "test", device: str = "auto",
                      batch_size: int = 64) -> tuple[dict, pd.DataFrame]:
    """Metrics and predictions of a saved model on one split of a manifest."""
    predictor = Predictor.load(model_path, device)
    table = load_table(manifest, for_training=False)
    rows = table.split(split)
    if rows.empty:
        raise InputError(f"{manifest} has no usable {split} rows")
    unknown = sorted(set(rows[schema.LABEL]) - set(predictor.info.classes))
    if unknown:
        raise InputError(f"labels {', '.join(unknown)} are not classes of this model "
                         f"({', '.join(predictor.info.classes)})")
    images = [load_image(table.root / p, predictor.info.preprocess) for p in rows[schema.PATH]]
    probs = predictor.predict_arrays(images, batch_size)
    classes = predictor.info.classes
    return evaluate(rows, probs, classes), predictions_frame(rows, probs, classes)
