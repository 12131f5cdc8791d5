"""The schedule, resume after Ctrl-C, the binary head, a weights file in a run, and CLI errors."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch

import manifests
from manifests import ExitStatus, UsageError, schema
from manifests.console import run_app
from tests.fixtures.models import ARCH, FEATURES
from train import loop
from train.cli import app, with_default_command
from train.device import resolve_amp
from train.model import ARCHS, build_model
from train.runner import TrainOptions, train

from .conftest import make_dataset

SMALL = {"arch": ARCH, "weights": "none", "img_size": 32, "batch_size": 8, "workers": 0,
         "device": "cpu", "review": 2}


def cli(args: list[str]) -> int:
    return run_app(app, with_default_command(args), "train")


def test_two_stages_with_discriminative_learning_rates():
    stages = loop.plan(freeze_epochs=1, epochs=3, lr=1e-3)
    assert [(s.name, s.epochs, s.frozen) for s in stages] == [("frozen", 1, True), ("unfrozen", 2, False)]
    net = build_model("resnet18", 3, "none")
    opt, _ = loop.optimizer_for(net, ARCHS["resnet18"], stages[0], steps=5)
    assert len(opt.param_groups) == 1 and not net.conv1.weight.requires_grad
    opt, _ = loop.optimizer_for(net, ARCHS["resnet18"], stages[1], steps=5)
    peaks = [g["max_lr"] for g in opt.param_groups]
    assert peaks == sorted(peaks) and peaks[-1] == pytest.approx(5e-4)
    assert peaks[0] == pytest.approx(5e-4 / loop.LR_MULT)
    assert net.conv1.weight.requires_grad and isinstance(opt, torch.optim.AdamW)
    assert loop.stage_at(stages, 0) == (stages[0], 0) and loop.stage_at(stages, 2) == (stages[1], 1)


def test_early_stopping_keeps_the_best_weights():
    net = torch.nn.Linear(2, 1)
    state = loop.State()
    for epoch, loss in enumerate([1.0, 0.5, 0.7, 0.8], start=1):
        state.epoch = epoch
        with torch.no_grad():
            net.weight.fill_(epoch)
        state.observe(loss, net, patience=2)
    assert state.best_epoch == 2 and state.stopped_early
    assert torch.all(state.best_state["weight"] == 2)


def test_amp_resolution_on_cpu():
    cpu = torch.device("cpu")
    assert resolve_amp("auto", cpu) is None and resolve_amp("off", cpu) is None
    assert resolve_amp("bf16", cpu) == torch.bfloat16
    with pytest.raises(UsageError, match="CUDA"):
        resolve_amp("fp16", cpu)


@pytest.mark.slow
def test_resume_continues_from_the_saved_epoch(tiny, tmp_path, monkeypatch):
    out = tmp_path / "run"
    opts = TrainOptions(**SMALL, epochs=3, freeze_epochs=1, early_stop=0, out=out)  # none: no frozen stage
    real, calls = loop.validate, []

    def interrupt_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(loop, "validate", interrupt_second_epoch)
    with pytest.raises(loop.TrainingInterrupted, match=r"after epoch 1 of 3.*--resume"):
        train(tiny, opts)
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["state"]["epoch"] == 1 and saved["stage"] == "unfrozen"
    first = pd.read_csv(out / "history.csv")
    assert list(first["epoch"]) == [1]
    with pytest.raises(UsageError, match="--resume"):
        train(tiny, opts)  # an unfinished run is not overwritten
    monkeypatch.setattr(loop, "validate", real)
    result = train(tiny, TrainOptions(**SMALL, epochs=3, freeze_epochs=1, early_stop=0, out=out, resume=True))
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    assert list(history["stage"]) == ["unfrozen"] * 3
    assert history.iloc[0].equals(first.iloc[0])  # epoch 1 was not trained again
    assert (out / "model.pt").exists() and not (out / "checkpoint.pt").exists()
    assert len(result.history) == 3


def test_binary_path_through_the_cli(tmp_path, capsys):
    manifest = make_dataset(tmp_path, classes=("circle", "stripes"), per_split={"train": 5, "val": 3},
                            seed=2)
    out = tmp_path / "bin"
    status = cli([str(manifest), "--binary", "--balanced", "--arch", ARCH, "--weights", "none",
                  "--epochs", "1", "--freeze-epochs", "0", "--img-size", "32", "--batch-size", "8",
                  "--workers", "0", "--device", "cpu", "--out", str(out), "--augment", "light"])
    assert status == 0
    saved = torch.load(out / "model.pt", weights_only=True)
    assert saved["binary"] and saved["state_dict"]["fc.weight"].shape == (1, FEATURES)
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns[-3:]) == ["p_circle", "p_stripes", "correct"]
    assert ((predictions["p_circle"] + predictions["p_stripes"] - 1).abs() < 1e-4).all()
    printed = capsys.readouterr()
    assert "review page:" in printed.out
    assert f"manifest: {manifest}" in printed.err and "epoch 1 (unfrozen): train loss" in printed.err


def test_a_weights_file_starts_the_run(tiny, tmp_path):
    torch.manual_seed(3)
    source = build_model("resnet18", 1000, "none")
    torch.save(source.state_dict(), tmp_path / "start.pt")
    out = tmp_path / "w"
    train(tiny, TrainOptions(**{**SMALL, "arch": "resnet18", "weights": str(tmp_path / "start.pt")}, epochs=1,
                             freeze_epochs=1, out=out))
    trained = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    # the backbone was frozen for the only epoch: its weights are the file's, the head was trained
    assert torch.equal(trained["conv1.weight"], source.conv1.weight)
    assert torch.equal(trained["layer3.0.conv1.weight"], source.layer3[0].conv1.weight)
    assert trained["fc.weight"].shape == (3, 512)


def test_cli_errors_are_one_line(tmp_path, capsys):
    manifest = make_dataset(tmp_path, per_split={"train": 2}, with_split=False)
    assert cli([str(manifest), "--weights", "none"]) == ExitStatus.INPUT
    err = capsys.readouterr().err
    assert "curate split" in err and "Traceback" not in err
    assert cli(["run", str(manifest), "--arch", "nope"]) == ExitStatus.USAGE
    assert cli(["run", str(tmp_path / "absent.csv"), "--weights", "none"]) == ExitStatus.INPUT


def test_empty_class_rows_in_val_only_give_a_clear_error(tiny, tmp_path, capsys):
    frame = manifests.read(tiny)
    extra = frame.iloc[[0]].copy()
    extra[schema.LABEL], extra[schema.SPLIT], extra[schema.SHA256] = "ghost", "val", "f" * 64
    target = tiny.parent / "with_ghost.csv"
    manifests.write(pd.concat([frame, extra]), target)
    assert cli([str(target), "--weights", "none", "--out", str(tmp_path / "g")]) == ExitStatus.INPUT
    assert "ghost" in capsys.readouterr().err


class _Payload:
    """Unpickling this runs a shell command: what a crafted checkpoint.pt in a shared folder holds."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("content", ["code", "not a checkpoint", "garbage"])
def test_resume_refuses_a_crafted_checkpoint_in_one_line(tiny, tmp_path, capsys, content):
    """`train --resume` reads checkpoint.pt with weights_only: a pickled callable is not called, a file
    that is no checkpoint of ours is refused in one line (exit 4) and nothing is trained."""
    out, marker = tmp_path / "run", tmp_path / "pwned"
    out.mkdir()
    if content == "code":
        torch.save({"model": {}, "state": _Payload(marker)}, out / "checkpoint.pt")
    elif content == "not a checkpoint":
        torch.save({"model": torch.zeros(2)}, out / "checkpoint.pt")
    else:
        (out / "checkpoint.pt").write_bytes(b"\x80\x04garbage")
    status = cli([str(tiny), "--arch", ARCH, "--weights", "none", "--epochs", "1", "--img-size", "16",
                  "--workers", "0", "--device", "cpu", "--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert status == ExitStatus.INPUT, err
    assert not marker.exists()  # the command in the file never ran
    assert "refused, not a checkpoint" in err and "Traceback" not in err
    assert not (out / "model.pt").exists() and not (out / "history.csv").exists()
