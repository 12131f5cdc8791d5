"""Using a trained ``model.pt``: predict image files or folders, or evaluate on a manifest's split.

Everything needed comes from the file itself (arch, class names, preprocessing, binary head, the
autocast mode and batch size the run evaluated with, and the square size its images were decoded to
with ``--cache-size``), so a model predicts with no manifest. Prediction
and evaluation go through the same loaders, ``to_input`` and autocast as training's validation, in the
run's batch size, so they reproduce the run's ``predictions.csv``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from manifests import InputError, UsageError, schema
from manifests.images import ImageError, is_image_name

from .data import ManifestDataset, decode_pre, input_square, load_image, load_table, to_input
from .device import Context, make_context, pick_device, probabilities
from .loaders import split_loader
from .loop import validate
from .metrics import CONFIDENCE, PREDICTION, evaluate, predictions_frame
from .model import ModelInfo, load_model

log = logging.getLogger(__name__)


@dataclass
class Predictor:
    """A loaded ``model.pt`` on a device, with the run's autocast and batch size."""

    model: torch.nn.Module
    info: ModelInfo
    ctx: Context

    @property
    def device(self) -> torch.device:
        return self.ctx.device

    @classmethod
    def load(cls, path: Path, device: str = "auto") -> Predictor:
        model, info = load_model(path)
        dev = pick_device(device)
        try:
            ctx = make_context(dev, info.amp, info.preprocess, info.binary, 0.0)
        except UsageError:  # fp16 recorded on CUDA, predicting on the CPU: full precision
            ctx = make_context(dev, "off", info.preprocess, info.binary, 0.0)
        return cls(model.to(dev).to(memory_format=torch.channels_last), info, ctx)

    @torch.inference_mode()
    def predict_arrays(self, images: list[np.ndarray], batch_size: int | None = None) -> np.ndarray:
        """Probabilities ``(N, classes)`` for preprocessed HWC uint8 images."""
        size = batch_size or self.info.batch_size
        out = []
        for i in range(0, len(images), size):
            batch = torch.from_numpy(np.stack(images[i:i + size])).permute(0, 3, 1, 2)
            out.append(self._probs(batch))
        return np.concatenate(out) if out else np.zeros((0, len(self.info.classes)))

    def _probs(self, batch: torch.Tensor) -> np.ndarray:
        self.model.eval()
        with self.ctx.autocast():
            logits = self.model(to_input(batch, self.info.preprocess, self.device))
        return probabilities(logits, self.info.binary).cpu().numpy()


class FilesDataset(Dataset):
    """Image files as ``(uint8 CHW, decoded ok, index)``; a file that fails decodes as zeros."""

    def __init__(self, paths: list[Path], info: ModelInfo) -> None:
        self.paths, self.pre = paths, info.preprocess
        self.decode = decode_pre(info.preprocess, info.decode_size)  # as the run decoded its images

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str, int]:
        try:
            arr = load_image(self.paths[i], self.decode)
            error = ""
        except ImageError as exc:  # one named failure from the one opener
            arr = np.zeros((self.decode.size, self.decode.size, 3), np.uint8)
            error = exc.error
        return input_square(arr, self.pre), error, i


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


@torch.inference_mode()
def predict_paths(model_path: Path, inputs: list[Path], device: str = "auto",
                  batch_size: int | None = None, workers: int = 0) -> pd.DataFrame:
    """Predict image files/folders: path, prediction, confidence, p_<class>..., error."""
    predictor = Predictor.load(model_path, device)
    classes = predictor.info.classes
    files = image_files(inputs)
    loader = DataLoader(FilesDataset(files, predictor.info), num_workers=workers,
                        batch_size=batch_size or predictor.info.batch_size,
                        pin_memory=predictor.device.type == "cuda")
    probs = np.zeros((len(files), len(classes)))
    errors = [""] * len(files)
    for images, errs, index in loader:
        probs[index.numpy()] = predictor._probs(images)
        for i, err in zip(index.tolist(), errs, strict=True):
            errors[i] = err
    good = np.array([not e for e in errors], dtype=bool)
    p = probs[good]
    frame = pd.DataFrame({schema.PATH: [str(f) for f, ok in zip(files, good, strict=True) if ok],
                          PREDICTION: [classes[i] for i in p.argmax(axis=1)] if len(p) else [],
                          CONFIDENCE: p.max(axis=1).round(6) if len(p) else []})
    for i, name in enumerate(classes):
        frame[f"p_{name}"] = p[:, i].round(6)
    bad = [{schema.PATH: str(f), schema.ERROR: e} for f, e in zip(files, errors, strict=True) if e]
    if bad:
        frame = pd.concat([frame, pd.DataFrame(bad)], ignore_index=True)
    return frame


def evaluate_manifest(model_path: Path, manifest: Path, split: str = "test", device: str = "auto",
                      batch_size: int | None = None, workers: int = 0) -> tuple[dict, pd.DataFrame]:
    """Metrics and predictions of a saved model on one split of a manifest (training's loader)."""
    predictor = Predictor.load(model_path, device)
    table = load_table(manifest, for_training=False)
    rows = table.split(split)
    if rows.empty:
        raise InputError(f"{manifest} has no usable {split} rows")
    unknown = sorted(set(rows[schema.LABEL]) - set(predictor.info.classes))
    if unknown:
        raise InputError(f"labels {', '.join(unknown)} are not classes of this model "
                         f"({', '.join(predictor.info.classes)})")
    table = type(table)(table.root, table.rows, predictor.info.classes, table.skipped)
    dataset = ManifestDataset(table, rows, predictor.info.preprocess, decode_size=predictor.info.decode_size)
    loader = split_loader(dataset, batch_size or predictor.info.batch_size, workers,
                          predictor.device.type == "cuda", train=False)
    _, _, probs = validate(predictor.model, loader, predictor.ctx)
    classes = predictor.info.classes
    return evaluate(rows, probs.numpy(), classes), predictions_frame(rows, probs.numpy(), classes)
