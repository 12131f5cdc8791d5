"""Several processes (a real torchrun launch on gloo), frozen-feature training, export, timm archs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import manifests
from manifests import schema
from tests.fixtures.models import ARCH, FEATURES
from train.runner import TrainOptions, train

from .conftest import make_dataset

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"arch": ARCH, "weights": "none", "img_size": 16, "batch_size": 8, "workers": 0,
         "device": "cpu", "review": 1}


def _torchrun_cmd(args: list[str]) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "train", *args], env


def _torchrun(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    cmd, env = _torchrun_cmd(args)
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


DDP_ARGS = ["--weights", "none", "--arch", ARCH, "--img-size", "16", "--batch-size", "4",
            "--epochs", "2", "--early-stop", "0", "--workers", "0", "--device", "cpu", "--balanced"]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """One uninterrupted 2-epoch run of 2 processes on gloo: manifest, run folder, the launch."""
    tmp = tmp_path_factory.mktemp("ddp")
    manifest = make_dataset(tmp / "ds", per_split={"train": 7, "val": 5, "test": 3}, seed=4)
    out = tmp / "ddp"
    done = _torchrun([str(manifest), *DDP_ARGS, "--out", str(out)], tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    return manifest, out, done


@pytest.mark.slow
def test_torchrun_two_processes_on_gloo(ddp_run):
    """The launch's outputs: 2 ranks, every val and test image scored once (shards gathered), rank 0
    alone reports. Resuming under torchrun is the next test's (a run whose last outputs were lost
    writes them again: tests/train/test_habits.py, in one process)."""
    _, run, done = ddp_run
    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 2
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val"]["n"] == 15 and metrics["test"]["n"] == 9  # shards gathered: every image once
    predictions = pd.read_csv(run / "predictions.csv")
    assert predictions[schema.SHA256].is_unique and len(predictions) == 24
    assert list(pd.read_csv(run / "history.csv")["epoch"]) == [1, 2]
    assert done.stdout.count("run folder:") == 1  # only rank 0 reports


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; workers die with the "
                    "launcher through Linux's prctl")
def test_torchrun_killed_after_a_checkpoint_resumes_to_the_same_weights(ddp_run, tmp_path):
    """kill -9 of the launcher's process group once the first epoch's checkpoint is written; the workers
    (each in a session of its own) must die with it; the same command with --resume trains epoch 2 only,
    and ends on the weights of the uninterrupted run: every rank restarts from rank 0's checkpoint
    (weights, BatchNorm statistics, AdamW and one-cycle state), samplers are seeded by epoch, the
    gradients are all-reduced over 2 ranks on one thread each, so the run is deterministic."""
    manifest, reference, _ = ddp_run
    out = tmp_path / "killed"
    cmd, env = _torchrun_cmd([str(manifest), *DDP_ARGS, "--out", str(out)])
    with (tmp_path / "first.log").open("wb") as log:
        launcher = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        workers: list[int] = []
        try:
            deadline = time.monotonic() + 240
            # the workers are listed while they import; the kill follows the checkpoint at once (the
            # second epoch of 7 images takes a fraction of a second: a slow poll under load missed it)
            while not (out / "checkpoint.pt").exists() and launcher.poll() is None \
                    and time.monotonic() < deadline:
                if len(workers) < 2:
                    workers = _children(launcher.pid)
                time.sleep(0.002)
            os.killpg(launcher.pid, signal.SIGKILL)
            assert (out / "checkpoint.pt").exists(), (tmp_path / "first.log").read_text()[-3000:]
            assert len(workers) >= 2, workers
            launcher.wait(timeout=30)
            deadline = time.monotonic() + 30
            while any(_alive(w) for w in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert workers and not any(_alive(w) for w in workers), "workers outlived their launcher"
        finally:
            for pid in [launcher.pid, *workers]:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            launcher.wait(timeout=30)
    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [1]
    assert not (out / "model.pt").exists()  # killed mid-training
    assert torch.load(out / "checkpoint.pt", weights_only=True)["state"]["epoch"] == 1
    done = _torchrun([str(manifest), *DDP_ARGS, "--out", str(out), "--resume"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run folder:") == 1 and "epoch 1 (" not in done.stderr  # epoch 2 only
    history, expected = (pd.read_csv(d / "history.csv") for d in (out, reference))
    assert list(history["epoch"]) == [1, 2]
    numbers = ["train_loss", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(history[numbers], expected[numbers], atol=0, rtol=0)
    assert not (out / "checkpoint.pt").exists() and (out / "review.html").exists()
    got, want = (torch.load(d / "model.pt", weights_only=True)["state_dict"] for d in (out, reference))
    assert got.keys() == want.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], atol=0, rtol=0, msg=name)
    # the resumed run's outputs, written by rank 0 from both ranks' shards: the uninterrupted run's
    again, predictions = (pd.read_csv(d / "predictions.csv").sort_values(schema.SHA256, ignore_index=True)
                          for d in (out, reference))
    assert list(again[schema.SHA256]) == list(predictions[schema.SHA256]) and len(again) == 24
    probs = [c for c in again.columns if c.startswith("p_")]
    assert np.abs(again[probs].to_numpy() - predictions[probs].to_numpy()).max() <= 1e-5


@pytest.mark.slow
def test_features_only_beats_chance_and_reuses_its_cache(shapes, tmp_path, monkeypatch):
    from train import features
    cache = tmp_path / "cache"
    opts = TrainOptions(**{**SMALL, "img_size": 32}, epochs=30, early_stop=0, features_only=True,
                        cache_dir=cache, out=tmp_path / "f1")
    result = train(shapes, opts)
    assert result.metrics["val"]["accuracy"] >= 0.6  # chance is 1/3
    stored = list((cache / "features").rglob("*.npy"))
    rows = manifests.read(shapes)
    assert len(stored) == int(rows[schema.SPLIT].isin(["train", "val"]).sum())
    assert {p.parent.parent.name for p in stored} == {f"{ARCH.replace('/', '-')}-none-seed0-32-32"}
    saved = torch.load(tmp_path / "f1" / "model.pt", weights_only=True)
    assert saved["state_dict"]["fc.weight"].shape == (3, FEATURES)

    def no_backbone(*args, **kwargs):
        raise AssertionError("features computed again")
    monkeypatch.setattr(features, "backbone", lambda model, arch: no_backbone)
    again = train(shapes, TrainOptions(**{**opts.__dict__, "out": tmp_path / "f2"}))
    assert again.metrics["val"]["accuracy"] == result.metrics["val"]["accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_loads_back_with_matching_outputs(trained, tmp_path, fmt):
    from train.export import export
    done = export(trained.out, fmt, tmp_path / f"m.{fmt}")
    assert done.path.stat().st_size > 0 and done.max_abs_diff <= 1e-4
    x = torch.randn(5, 3, 32, 32)
    from train.model import load_model
    model, info = load_model(trained.out / "model.pt")
    with torch.inference_mode():
        expected = model(x).numpy()
    if fmt == "onnx":
        import onnx
        import onnxruntime
        got = onnxruntime.InferenceSession(str(done.path)).run(None, {"image": x.numpy()})[0]
        meta = {p.key: p.value for p in onnx.load(str(done.path)).metadata_props}
        assert json.loads(meta["classes"]) == list(info.classes)
    else:
        extra = {"gleanset.json": ""}
        loaded = torch.jit.load(str(done.path), _extra_files=extra)
        got = loaded(x).detach().numpy()
        assert json.loads(json.loads(extra["gleanset.json"])["classes"]) == list(info.classes)
    assert np.abs(got - expected).max() <= 1e-4


def test_export_errors(tmp_path):
    from manifests import InputError, UsageError
    from train.export import export
    with pytest.raises(InputError, match=r"model\.pt"):
        export(tmp_path, "onnx")
    with pytest.raises(UsageError, match="torchscript"):
        export(tmp_path, "tflite")


def test_timm_architectures_through_the_registry():
    pytest.importorskip("timm")
    from train import model as M
    for name in ("timm/test_resnet", "timm/test_vit"):
        arch = M.get_arch(name)
        net = M.build_model(name, 3, "none", 32)
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 3)
        assert isinstance(net.get_submodule(arch.head), torch.nn.Linear)
        net.get_submodule(arch.cam_layer)
        assert M.param_groups(net, arch)[-1] == list(net.get_submodule(arch.head).parameters())
    with pytest.raises(M.UsageError, match="timm has no model"):
        M.get_arch("timm/not_a_model_x")


@pytest.mark.slow
def test_a_tiny_timm_model_trains_and_predicts(tiny, tmp_path):
    pytest.importorskip("timm")
    out = tmp_path / "timm"
    train(tiny, TrainOptions(**{**SMALL, "arch": "timm/test_resnet", "img_size": 32}, epochs=1, out=out))
    from train.predict import predict_paths
    frame = predict_paths(out / "model.pt", [tiny.parent / "images"], "cpu")
    assert len(frame) == 24 and frame["prediction"].notna().all()


@pytest.mark.slow
def test_225_rows_at_batch_32_train_and_every_val_image_is_evaluated(tmp_path):
    manifest = make_dataset(tmp_path, classes=("circle", "square", "stripes"),
                            per_split={"train": 75, "val": 3}, seed=5)
    result = train(manifest, TrainOptions(**{**SMALL, "batch_size": 32, "img_size": 8}, epochs=1,
                                          out=tmp_path / "r", cache_size=0))
    assert result.metrics["val"]["n"] == 9


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (gpu marker)")
def test_cuda_run_gpu_decode_compile_and_predict_agree(tiny, tmp_path):
    out = tmp_path / "cuda"
    opts = TrainOptions(**{**SMALL, "device": "cuda", "img_size": 32}, epochs=2, early_stop=0, amp="bf16",
                        augment="strong", compile=True, cache_dir=tmp_path / "cache", out=out)
    train(tiny, opts)
    from train.predict import predict_paths
    saved = pd.read_csv(out / "predictions.csv")
    probs = [c for c in saved.columns if c.startswith("p_")]
    predicted = predict_paths(out / "model.pt", [tiny.parent / p for p in saved[schema.PATH]], "cuda")
    assert np.abs(predicted[probs].to_numpy() - saved[probs].to_numpy()).max() <= 1e-5


@pytest.mark.slow
@pytest.mark.timeout(900)  # inductor's C++ builds: ~30 s on a quiet 2-core machine, 3x that on a loaded one
def test_compile_on_the_cpu_trains_and_predicts_like_the_run(tiny, tmp_path, monkeypatch):
    """``--compile`` (inductor, C++ on the CPU) on the tiniest model: the graph is compiled (the inductor
    cache fills), training runs on static batches, and model.pt is the plain model predict reloads.

    The run starts from a weights file and trains its one epoch frozen (the head stage of a fine-tune):
    inductor compiles the whole forward pass and a head-only backward, one C++ build per kernel, about
    half the builds of a from-scratch run's full backward, and the same code of ours. It runs through
    the CLI's ``main`` in this process, whose torch, timm and scikit-learn are already imported (a child
    process imported them again: 8 CPU s), with inductor's cache in the test's folder and its builds in
    this process (``compile_threads=1``: no pool of compile workers left running)."""
    pytest.importorskip("timm")
    import torch._dynamo
    import torch._inductor.config as inductor_config

    from train.cli import main
    from train.model import build_model

    torch.manual_seed(5)
    start = build_model(ARCH, 1000, "none").state_dict()
    torch.save(start, tmp_path / "start.pt")
    out, inductor = tmp_path / "compiled", tmp_path / "inductor"
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(inductor))
    monkeypatch.chdir(tmp_path)
    args = [str(tiny), "--arch", ARCH, "--weights", str(tmp_path / "start.pt"), "--freeze-epochs", "1",
            "--img-size", "16", "--batch-size", "8", "--epochs", "1", "--workers", "0", "--device", "cpu",
            "--compile", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    try:
        with inductor_config.patch(compile_threads=1), pytest.raises(SystemExit) as done:
            main(args)
    finally:
        torch._dynamo.reset()  # this process's later tests start from no compiled code
    assert done.value.code == 0
    assert any(p.is_file() for p in inductor.rglob("*")), "nothing was compiled"
    assert json.loads((out / "config.json").read_text())["compile"] is True
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [1] and np.isfinite(history["train_loss"]).all()
    saved = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    assert not any(k.startswith("_orig_mod.") for k in saved)  # the plain model, not the compiled wrapper
    assert torch.equal(saved["conv1.0.weight"], start["conv1.0.weight"])  # frozen: the file's backbone
    assert saved["fc.weight"].shape[0] == 3 and not torch.equal(saved["fc.weight"], start["fc.weight"][:3])
    from train.predict import predict_paths
    predictions = pd.read_csv(out / "predictions.csv")
    probs = [c for c in predictions.columns if c.startswith("p_")]
    again = predict_paths(out / "model.pt", [tiny.parent / p for p in predictions[schema.PATH]], "cpu")
    assert np.abs(again[probs].to_numpy() - predictions[probs].to_numpy()).max() <= 1e-5
