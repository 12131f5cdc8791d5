"""What fine-tuners expect: option errors before any work, N epochs in total, early stop announced,
the LR range test, TensorBoard curves, a replayable config.json, finished runs and file modes."""

from __future__ import annotations

import json
import os
import stat

import pandas as pd
import pytest

import manifests
from manifests import ExitStatus, UsageError, schema
from manifests.console import run_app
from tests.fixtures.models import ARCH
from train import loop
from train.cli import app, with_default_command
from train.runner import TrainOptions, check_options, train

from .conftest import CLASSES, make_dataset

SMALL = {"arch": ARCH, "weights": "none", "img_size": 16, "batch_size": 8, "workers": 0,
         "device": "cpu", "review": 1}


def cli(args: list[str]) -> int:
    return run_app(app, with_default_command(args), "train")


@pytest.mark.parametrize("args, word", [
    (["--img-size", "0"], "--img-size"), (["--img-size", "-5"], "--img-size"), (["--lr", "-1"], "--lr"),
    (["--batch-size", "0"], "--batch-size"), (["--epochs", "0"], "--epochs"),
    (["--lr", "fast"], "--lr"), (["--label-smoothing", "1.5"], "--label-smoothing"),
    (["--log", "wandb"], "--log"), (["--workers", "-1"], "--workers"),
])
def test_bad_options_are_one_line_errors_before_any_work(tiny, tmp_path, capsys, args, word):
    out = tmp_path / "run"
    assert cli([str(tiny), "--weights", "none", "--out", str(out), *args]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert word in err and "Traceback" not in err
    assert not out.exists()


def test_epochs_count_every_epoch_and_weights_none_has_no_frozen_stage():
    assert [(s.name, s.epochs) for s in loop.plan(1, 2, None)] == [("frozen", 1), ("unfrozen", 1)]
    assert [(s.name, s.epochs) for s in loop.plan(1, 2, None, pretrained=False)] == [("unfrozen", 2)]
    assert [(s.name, s.epochs) for s in loop.plan(3, 2, None)] == [("frozen", 2)]
    with pytest.raises(UsageError, match="--epochs"):
        check_options(TrainOptions(epochs=0))
    with pytest.raises(UsageError, match="not both"):
        check_options(TrainOptions(lr=1e-3, lr_find=True))


@pytest.mark.slow
def test_lr_find_picks_a_value_inside_the_range_and_records_it(tiny, tmp_path):
    from train import lr_find
    out = tmp_path / "lr"
    result = train(tiny, TrainOptions(**SMALL, epochs=1, lr_find=True, lr_find_steps=30, out=out))
    config = json.loads((out / "config.json").read_text())
    chosen = config["lr"]
    low, high = config["lr_find"]["range"]
    assert 1e-7 <= low < chosen < high <= 10 and config["lr_find"]["steps"] <= 30
    assert config["lr_find"]["suggestion"] == chosen == result.metrics["lr"]
    assert (out / "lr_find.png").stat().st_size > 0
    assert float(pd.read_csv(out / "history.csv")["lr"].iloc[0]) <= chosen / 2 * 1.01  # the run used it
    # the suggestion falls where the loss was falling: before the minimum, and lower loss than at start
    lrs = [1e-4 * 1.2 ** i for i in range(40)]
    losses = [2.0 - 0.05 * i for i in range(20)] + [1.0 + 0.3 * i for i in range(20)]
    assert lrs[0] < lr_find.suggest(lrs, losses) <= lrs[19]


@pytest.mark.slow
def test_tensorboard_event_files_hold_the_curves(tiny, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = tmp_path / "tb"
    train(tiny, TrainOptions(**SMALL, epochs=2, early_stop=0, log="tensorboard", out=out))
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert {"loss/train", "loss/val", "accuracy/val", "lr"} <= set(events.Tags()["scalars"])
    history = pd.read_csv(out / "history.csv")
    val = events.Scalars("loss/val")
    assert [e.step for e in val] == [1, 2]
    assert [round(e.value, 5) for e in val] == history["val_loss"].round(5).tolist()


@pytest.mark.slow
def test_config_json_repeats_the_run(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default run folder would land here, not in the checkout
    first = tmp_path / "first"
    args = (f"--arch {ARCH} --weights none --img-size 16 --batch-size 8 --workers 0 --device cpu "
            "--epochs 2 --early-stop 0 --seed 3")
    assert cli([str(tiny), *args.split(), "--out", str(first)]) == 0
    config = json.loads((first / "config.json").read_text())
    assert config["lr"] == loop.DEFAULT_LR and config["img_size"] == 16 and config["workers"] == 0
    assert config["cache_size"] == 16 and config["freeze_epochs"] == 0 and config["batch_size"] == 8
    again = tmp_path / "again"
    assert cli(["--config", str(first / "config.json"), "--out", str(again)]) == 0
    assert f"manifest: {config['manifest']}" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # --out given here overrides the recorded one
    a, b = (pd.read_csv(d / "predictions.csv") for d in (first, again))
    pd.testing.assert_frame_equal(a, b)  # same seed, same options: the same model
    replayed = json.loads((again / "config.json").read_text())
    assert {**replayed, "out": ""} == {**config, "out": ""}


@pytest.mark.slow
def test_a_run_killed_before_its_last_outputs_is_not_finished(tiny, tmp_path, capsys, monkeypatch):
    from train import outputs
    out = tmp_path / "killed"
    real = outputs.explain.review

    def killed(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(outputs.explain, "review", killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny, TrainOptions(**SMALL, epochs=1, out=out))
    assert (out / "model.pt").exists() and not (out / "review.html").exists()
    monkeypatch.setattr(outputs.explain, "review", real)
    assert cli([str(tiny), "--weights", "none", "--out", str(out)]) == ExitStatus.USAGE
    assert "missing review.html" in capsys.readouterr().err
    before = (out / "history.csv").read_text()
    train(tiny, TrainOptions(**SMALL, epochs=1, out=out, resume=True))
    assert (out / "review.html").exists() and (out / "history.csv").read_text() == before
    assert not (out / "checkpoint.pt").exists()
    (out / "metrics.json").unlink()  # and with the checkpoint gone: from model.pt and history.csv
    train(tiny, TrainOptions(**SMALL, epochs=1, out=out, resume=True))
    assert json.loads((out / "metrics.json").read_text())["val"]["n"] == 9
    with pytest.raises(UsageError, match="finished"):
        train(tiny, TrainOptions(**SMALL, epochs=1, out=out, resume=True))


@pytest.mark.slow
def test_outputs_follow_the_umask_and_early_stop_is_announced(tmp_path, capsys, train_seed):
    """Validation holds the training images under the next class's name: the better the model learns
    the training labels, the worse its val loss, so a 6-epoch run with patience 1 stops early on any
    CPU (a plain dataset's val loss may improve six times in a row)."""
    manifest = make_dataset(tmp_path / "ds", per_split={"train": 5}, seed=1)
    with manifests.update(manifest, command="test: contradicting val") as tx:
        val = tx.frame.copy()
        val[schema.SPLIT] = "val"
        val[schema.LABEL] = val[schema.LABEL].map(dict(zip(CLASSES, CLASSES[1:] + CLASSES[:1], strict=True)))
        val[schema.SHA256] = [f"{i:064x}" for i in range(len(val))]  # the same files as other rows
        tx.frame = pd.concat([tx.frame, val], ignore_index=True)
    out = tmp_path / "modes"
    old = os.umask(0o022)
    try:
        args = (f"--weights none --arch {ARCH} --img-size 16 --batch-size 8 --workers 0 --device cpu "
                f"--epochs 6 --early-stop 1 --lr 0.01 --freeze-epochs 0 --seed {train_seed}")
        status = cli([str(manifest), *args.split(), "--cache-dir", str(tmp_path / "cache"),
                      "--out", str(out)])
    finally:
        os.umask(old)
    assert status == 0
    files = [p for p in [*out.rglob("*"), *(tmp_path / "cache").rglob("*")] if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files), files
    history = pd.read_csv(out / "history.csv")
    assert len(history) < 6
    assert f"early stop after epoch {len(history)} of 6" in capsys.readouterr().err
