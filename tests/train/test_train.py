"""End to end: a real training run on generated shapes, its outputs, and predict/eval on its model."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import torch

import manifests
from manifests import schema
from manifests.console import run_app
from tests.fixtures.models import ARCH
from train.cli import app, with_default_command

STREET = "street"  # a pattern field, not a schema column: group columns are declared


def main(args: list[str]) -> int:
    """Run the train CLI in-process and return its exit status."""
    return run_app(app, with_default_command(args), "train")


pytestmark = pytest.mark.slow  # one real training run shared by the module

OUTPUTS = ("model.pt", "config.json", "history.csv", "curves.png", "metrics.json", "confusion.png",
           "predictions.csv", "review.html")


def test_beats_chance_on_val(trained):
    assert len(trained.history) == 3
    assert trained.metrics["val"]["accuracy"] >= 0.7  # chance is 1/3
    assert trained.metrics["val"]["macro_f1"] >= 0.6
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"]


def test_run_folder_holds_every_output(trained):
    for name in OUTPUTS:
        assert (trained.out / name).stat().st_size > 0, name
    assert not (trained.out / "checkpoint.pt").exists()  # finished runs keep only model.pt
    saved = torch.load(trained.out / "model.pt", weights_only=True)
    assert saved["arch"] == ARCH
    assert saved["classes"] == ["circle", "square", "stripes"]
    assert saved["preprocess"]["size"] == 32
    config = json.loads((trained.out / "config.json").read_text())
    assert config["batch_size"] == 8 and config["device"] == "cpu" and config["amp"] == "off"
    history = pd.read_csv(trained.out / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]


def test_metrics_per_class_and_per_group(trained, shapes):
    metrics = json.loads((trained.out / "metrics.json").read_text())
    assert metrics["primary"] == "test"
    val = metrics["val"]
    assert set(val["per_class"]) == {"circle", "square", "stripes"}
    assert sum(v["support"] for v in val["per_class"].values()) == val["n"] == 24
    rows = manifests.read(shapes)
    val_streets = set(rows[rows[schema.SPLIT] == "val"][STREET])
    assert set(val["groups"]["street"]) == val_streets
    assert sum(v["n"] for v in val["groups"]["street"].values()) == 24
    assert val["groups"]["source"]["folder"]["n"] == 24


def test_predictions_join_back_to_the_manifest(trained, shapes):
    predictions = pd.read_csv(trained.out / "predictions.csv")
    manifest = manifests.read(shapes)
    joined = predictions.merge(manifest, on=schema.SHA256, suffixes=("", "_m"), validate="one_to_one")
    assert len(joined) == len(predictions) == 24 + 18
    assert (joined[schema.LABEL] == joined["label_m"]).all()
    assert (joined[schema.SPLIT] == joined["split_m"]).all()
    probs = predictions[["p_circle", "p_square", "p_stripes"]]
    assert ((probs.sum(axis=1) - 1).abs() < 1e-4).all()
    assert (probs.idxmax(axis=1).str[2:] == predictions["prediction"]).all()


def test_review_page_shows_original_heatmap_overlay(trained):
    page = (trained.out / "review.html").read_text()
    assert "Most confident mistakes" in page and "Least confident predictions" in page
    images = re.findall(r"src='data:image/png;base64,", page)
    assert images and len(images) % 4 == 0  # original, model input, Grad-CAM, overlay
    cards = page.count("<figcaption>overlay</figcaption>")
    assert cards == len(images) // 4 and page.count("<figcaption>original (") == cards
    assert re.search(r"<figcaption>model input \(32x32\)</figcaption>", page)
    val = trained.metrics[trained.metrics["primary"]]
    assert f"split: accuracy <b>{val['accuracy']:.1%}</b> on {val['n']} images" in page
    assert f"<b>{trained.metrics['primary']}</b> split" in page
    listed = re.findall(r"<div class='card'><p>([^<]*)<br>", page)
    assert len(listed) == len(set(listed))  # no image in two sections


def test_predict_matches_the_run(trained, shapes, capsys):
    predictions = pd.read_csv(trained.out / "predictions.csv").set_index(schema.PATH)
    first = predictions.index[0]
    assert main(["predict", str(trained.out / "model.pt"), str(shapes.parent / first), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result) == 1
    assert result[0]["prediction"] == predictions.loc[first, "prediction"]
    assert result[0]["p_circle"] == pytest.approx(predictions.loc[first, "p_circle"], abs=1e-4)


def test_predict_a_folder_counts_unreadable_files(trained, shapes, capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for src in sorted((shapes.parent / "images" / "circle").glob("test_*"))[:3]:
        (folder / src.name).write_bytes(src.read_bytes())
    (folder / "broken.png").write_bytes(b"not an image")
    assert main(["predict", str(trained.out / "model.pt"), str(folder), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result) == 4
    assert sum(1 for r in result if r.get("error")) == 1


def test_eval_reproduces_test_metrics(trained, shapes, capsys):
    assert main(["eval", str(trained.out / "model.pt"), str(shapes), "--split", "test", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == pytest.approx(trained.metrics["test"]["accuracy"], abs=1e-6)
    assert "street" in result["groups"]


def test_eval_defaults_to_manifest_csv_here(trained, shapes, capsys, monkeypatch):
    monkeypatch.chdir(shapes.parent)
    assert main(["eval", str(trained.out / "model.pt"), "--split", "test", "--json"]) == 0
    printed = capsys.readouterr()
    assert "manifest: manifest.csv" in printed.err
    assert json.loads(printed.out)["accuracy"] == pytest.approx(trained.metrics["test"]["accuracy"], abs=1e-6)


def test_default_command_is_run():
    assert with_default_command(["m.csv", "--epochs", "2"]) == ["run", "m.csv", "--epochs", "2"]
    assert with_default_command(["-v", "--arch", "resnet18", "m.csv"]) == ["-v", "run", "--arch",
                                                                          "resnet18", "m.csv"]
    assert with_default_command(["predict", "a.pt", "x.jpg"]) == ["predict", "a.pt", "x.jpg"]
    assert with_default_command(["--help"]) == ["--help"]


def test_predict_and_eval_reproduce_predictions_csv(trained, shapes):
    from train.predict import evaluate_manifest, predict_paths
    saved = pd.read_csv(trained.out / "predictions.csv")
    probs = [c for c in saved.columns if c.startswith("p_")]
    files = [shapes.parent / p for p in saved[schema.PATH]]
    predicted = predict_paths(trained.out / "model.pt", files, "cpu")
    assert predicted[schema.PATH].tolist() == [str(f) for f in files]
    assert (predicted[probs].to_numpy() - saved[probs].to_numpy()).__abs__().max() <= 1e-5
    _, evaluated = evaluate_manifest(trained.out / "model.pt", shapes, "test", "cpu")
    test = saved[saved[schema.SPLIT] == "test"].reset_index(drop=True)
    assert (evaluated[probs].to_numpy() - test[probs].to_numpy()).__abs__().max() <= 1e-5


@pytest.mark.parametrize("as_json", [False, True])
def test_export_command_as_a_user_types_it(trained, tmp_path, capsys, as_json):
    """`train export RUN --format torchscript` through the real entry point, plain and --json: exit 0,
    the file written and its summary printed (the plain path once crashed after writing the file)."""
    target = tmp_path / "m.pt"
    args = ["export", str(trained.out), "--format", "torchscript", "-o", str(target)]
    assert main([*args, "--json"] if as_json else args) == 0
    printed = capsys.readouterr()
    assert target.stat().st_size > 0 and "Traceback" not in printed.err
    if as_json:
        assert json.loads(printed.out)["path"] == str(target)
    else:
        assert printed.out.startswith(f"torchscript: {target}") and "outputs match PyTorch" in printed.out
