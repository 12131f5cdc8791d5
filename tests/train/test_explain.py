"""Grad-CAM: maps the input's shape, not constant, and where the evidence is; the review picks."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
import torch

from manifests import schema
from tests.fixtures.models import ARCH
from train import explain
from train.data import ManifestDataset, load_image, to_input
from train.metrics import CONFIDENCE, CORRECT, PREDICTION
from train.model import ARCHS, Arch, build_model, get_arch, load_model


class RedDetector(torch.nn.Module):
    """Fixed weights, no training: ``features`` is the red channel minus the mean of green and blue, the
    logits are its global mean (class 0, "red") and the negation (class 1). Class 0's evidence is
    exactly where the image is red, so Grad-CAM's map is known without trusting its code."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Conv2d(3, 1, 1, bias=False)
        self.fc = torch.nn.Linear(1, 2, bias=False)
        with torch.no_grad():
            self.features.weight.copy_(torch.tensor([1.0, -0.5, -0.5]).view(1, 3, 1, 1))
            self.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


def red_squares(corners: list[tuple[int, int]], side: int = 32, size: int = 8) -> torch.Tensor:
    """Teal-grey images (no red evidence: the red channel is below the others) with one red square
    each, top-left corner at ``(y, x)``."""
    x = torch.tensor([0.3, 0.5, 0.5]).view(1, 3, 1, 1).repeat(len(corners), 1, side, side)
    for i, (y0, x0) in enumerate(corners):
        x[i, :, y0:y0 + size, x0:x0 + size] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
    return x


def test_gradcam_finds_the_evidence_of_fixed_weights():
    """The map of class "red" peaks on the red square and is lowest off it; hooks are removed."""
    corners = [(0, 0), (20, 4), (12, 22), (24, 24)]
    model = RedDetector()
    arch = Arch("red", head="fc", cam_layer="features")
    with explain.GradCAM(model, arch) as cam:
        maps = cam(red_squares(corners), torch.zeros(len(corners), dtype=torch.long))
    assert maps.shape == (4, 32, 32) and maps.min() >= 0 and maps.max() <= 1
    for m, (y0, x0) in zip(maps, corners, strict=True):
        inside = np.zeros_like(m, dtype=bool)
        inside[y0:y0 + 8, x0:x0 + 8] = True
        assert m[inside].min() > 0.9 and m[~inside].max() < 0.1  # the background is no evidence of red
        y, x = np.unravel_index(int(m.argmax()), m.shape)
        assert y0 <= y < y0 + 8 and x0 <= x < x0 + 8
    with explain.GradCAM(model, arch) as cam:  # the other class: its evidence is everywhere but there
        other = cam(red_squares(corners[:1]), torch.ones(1, dtype=torch.long))[0]
    assert other[2:6, 2:6].max() < 0.05 and other[16:, 16:].min() > 0.9
    assert not model.features._forward_hooks  # hooks removed


@pytest.mark.slow
def test_gradcam_on_the_trained_model_has_the_image_shape(trained, shapes):
    """On a trained model only what holds on any CPU: shape, range, one finite map per image, hooks
    removed (whether a map is flat depends on the run's floats)."""
    model, info = load_model(trained.out / "model.pt")
    rows = pd.read_csv(trained.out / "predictions.csv").head(4)
    images = np.stack([load_image(shapes.parent / p, info.preprocess) for p in rows[schema.PATH]])
    x = to_input(torch.from_numpy(images).permute(0, 3, 1, 2), info.preprocess, torch.device("cpu"))
    with explain.GradCAM(model, get_arch(info.arch)) as cam:
        maps = cam(x)
    assert maps.shape == (4, 32, 32) and np.isfinite(maps).all()
    assert maps.min() >= 0 and maps.max() <= 1
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


def review_cards(page: str) -> pd.DataFrame:
    """The cards of a review page: path, the class Grad-CAM was made for, and the probability shown."""
    cards = re.findall(r"<div class='card' data-path='([^']*)' data-class='([^']*)' data-p='([^']*)'>", page)
    frame = pd.DataFrame(cards, columns=[schema.PATH, "class", "p"])
    frame[schema.PATH] = frame[schema.PATH].map(html.unescape)
    return frame.astype({"p": float})


def assert_review_agrees_with_predictions(out) -> int:
    """Every card's class and probability are predictions.csv's for that image (within 1e-5)."""
    cards = review_cards((out / "review.html").read_text()).set_index(schema.PATH)
    saved = pd.read_csv(out / "predictions.csv").set_index(schema.PATH)
    assert len(cards) > 0 and cards.index.is_unique
    joined = cards.join(saved, how="left")
    assert joined[PREDICTION].notna().all()
    assert (joined["class"] == joined[PREDICTION]).all()
    assert (joined["p"] - joined[CONFIDENCE]).abs().max() <= 1e-5
    return len(cards)


@pytest.mark.slow
def test_review_shows_the_class_and_probability_of_predictions_csv(trained):
    saved = pd.read_csv(trained.out / "predictions.csv")
    test = saved[saved[schema.SPLIT] == "test"]
    mistakes = min(4, int((~test[CORRECT]).sum()))  # review=4: up to 4 mistakes, then 4 unsure calls
    assert assert_review_agrees_with_predictions(trained.out) == mistakes + 4


@pytest.mark.slow
def test_review_predict_and_eval_read_what_the_model_saw_through_a_larger_cache(tiny, tmp_path):
    """With --cache-size above the input size, the model sees cached squares resized on the fly; the
    review's pictures come from the same loader (a fresh decode at the input size would differ)."""
    from train.runner import TrainOptions, train
    out = tmp_path / "run"
    train(tiny, TrainOptions(arch=ARCH, weights="none", epochs=1, img_size=16, cache_size=24,
                             batch_size=4, workers=0, device="cpu", review=9, cache_dir=tmp_path / "c",
                             out=out))
    assert assert_review_agrees_with_predictions(out) == 9  # every val image
    assert "model input (16x16)" in (out / "review.html").read_text()
    from train.predict import evaluate_manifest, predict_paths
    saved = pd.read_csv(out / "predictions.csv")
    probs = [c for c in saved.columns if c.startswith("p_")]
    assert torch.load(out / "model.pt", weights_only=True)["decode_size"] == 24  # and so predict decodes
    predicted = predict_paths(out / "model.pt", [tiny.parent / p for p in saved[schema.PATH]], "cpu")
    assert np.abs(predicted[probs].to_numpy() - saved[probs].to_numpy()).max() <= 1e-5
    _, evaluated = evaluate_manifest(out / "model.pt", tiny, "val", "cpu")
    assert np.abs(evaluated[probs].to_numpy() - saved[probs].to_numpy()).max() <= 1e-5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (gpu marker)")
def test_review_under_cuda_autocast_agrees_with_predictions(tiny, tmp_path):
    from train.runner import TrainOptions, train
    out = tmp_path / "cuda"
    train(tiny, TrainOptions(arch="resnet18", weights="none", epochs=1, img_size=32, batch_size=8,
                             workers=0, device="cuda", amp="bf16", review=9, cache_dir=tmp_path / "c",
                             out=out))
    assert "(bf16)" in (out / "review.html").read_text()
    assert assert_review_agrees_with_predictions(out) == 9


@pytest.mark.slow
def test_explaining_whole_evaluation_batches_or_the_rows_alone_agrees(trained, shapes):
    from train.data import load_table
    from train.device import make_context
    model, info = load_model(trained.out / "model.pt")
    table = load_table(shapes)
    dataset = ManifestDataset(table, table.split("val"), info.preprocess)
    ctx = make_context(torch.device("cpu"), info.amp, info.preprocess, info.binary, 0.0)
    rows = [9, 2, 17]
    alone = explain.explain_rows(model, get_arch(info.arch), info, dataset, rows, ctx, whole=False)
    whole = explain.explain_rows(model, get_arch(info.arch), info, dataset, rows, ctx, whole=True)
    assert sorted(alone) == sorted(whole) == sorted(rows)  # only the rows asked for
    for i in rows:
        assert alone[i].predicted == whole[i].predicted
        assert abs(alone[i].probability - whole[i].probability) <= 1e-5
        assert np.array_equal(alone[i].image, whole[i].image)
        assert np.abs(alone[i].cam - whole[i].cam).max() <= 1e-4
