"""Grad-CAM: maps the input's shape, not constant, and where the evidence is; the review picks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from manifests import schema
from train import explain
from train.data import load_image, to_input
from train.metrics import CONFIDENCE, CORRECT
from train.model import ARCHS, build_model, load_checkpoint


@pytest.mark.slow
def test_gradcam_maps_have_the_image_shape_and_vary(trained, shapes):
    model, info = load_checkpoint(trained.out / "model.pt")
    rows = pd.read_csv(trained.out / "predictions.csv").head(4)
    images = np.stack([load_image(shapes.parent / p, info.preprocess) for p in rows[schema.PATH]])
    x = to_input(torch.from_numpy(images).permute(0, 3, 1, 2), info.preprocess, torch.device("cpu"))
    with explain.GradCAM(model, ARCHS[info.arch]) as cam:
        maps = cam(x)
    assert maps.shape == (4, 32, 32)
    assert maps.min() >= 0 and maps.max() <= 1
    assert all(m.std() > 0.01 for m in maps)  # not constant
    assert not model.get_submodule("layer4")._forward_hooks  # hooks removed


def test_gradcam_on_vit_tokens():
    torch.manual_seed(0)
    model = build_model("vit_b_16", 2, "none", 32)
    with explain.GradCAM(model, ARCHS["vit_b_16"]) as cam:
        maps = cam(torch.randn(1, 3, 32, 32))
    assert maps.shape == (1, 32, 32) and maps.std() > 0.01


def test_review_picks_confident_mistakes_and_unsure_calls():
    predictions = pd.DataFrame({CONFIDENCE: [0.99, 0.4, 0.9, 0.6, 0.35],
                                CORRECT: [False, True, True, False, False]})
    picked = explain.pick(predictions, 2)
    assert list(picked["Most confident mistakes"].index) == [0, 3]
    assert list(picked["Least confident predictions"].index) == [4, 1]
    picked = explain.pick(predictions, 3)  # row 4 is a mistake: listed once, with the mistakes
    assert list(picked["Most confident mistakes"].index) == [0, 3, 4]
    assert list(picked["Least confident predictions"].index) == [1, 2]


def test_overlay_keeps_the_image_shape():
    image = np.full((16, 16, 3), 128, np.uint8)
    cam = np.linspace(0, 1, 256).reshape(16, 16)
    assert explain.overlay(image, cam).shape == (16, 16, 3)
    assert explain.heatmap(cam)[0, 0].tolist() != explain.heatmap(cam)[-1, -1].tolist()
