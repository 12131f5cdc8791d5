"""What only a CUDA device can show: autocast training steps, pinned memory and asynchronous copies, and
prediction that reproduces a run trained under autocast. Marked ``gpu``; skipped without CUDA (``pytest
-m gpu`` on a GPU machine runs these with the GPU tests of test_cache, test_explain and test_scale)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from manifests import schema
from manifests.progress import NoProgress
from train import data
from train.device import make_context
from train.loaders import split_loader
from train.loop import optimizer_for, plan, train_one_epoch
from train.model import ARCHS, Preprocess, build_model

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (gpu marker)")]


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_autocast_training_step_on_cuda(amp):
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    device = torch.device("cuda")
    ctx = make_context(device, amp, Preprocess(32, 32), binary=False, label_smoothing=0.0)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    assert ctx.amp == dtype and (ctx.scaler is not None) == (amp == "fp16")  # fp16 needs loss scaling
    torch.manual_seed(0)
    model = build_model("resnet18", 3, "none", 32).to(device).to(memory_format=torch.channels_last)
    dtypes: list[torch.dtype] = []
    model.fc.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    opt, sched = optimizer_for(model, ARCHS["resnet18"], plan(0, 1, 1e-3, pretrained=False)[0], steps=3)
    before = model.fc.weight.detach().clone()
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    batches = [(images, torch.arange(8) % 3, torch.arange(8))] * 3
    loss, seen = train_one_epoch(model, batches, opt, sched, ctx, NoProgress())
    assert dtypes == [dtype] * 3  # the forward ran in half precision
    assert math.isfinite(loss) and seen == 24
    assert model.fc.weight.dtype == torch.float32  # the master weights stay float32
    assert not torch.equal(model.fc.weight.detach(), before)  # and the step changed them


def test_batches_are_pinned_and_copy_asynchronously(tiny, tmp_path):
    table = data.load_table(tiny)
    frame = table.split("val")
    pre = Preprocess(16, 16)
    ds = data.ManifestDataset(table, frame, pre, data.split_cache(tmp_path, table, frame, pre))
    loader = split_loader(ds, 4, 0, pin=True, train=False)
    decoded = [(x.clone(), i) for x, _, i in loader]  # DataLoader(pin_memory=True), fills the cache
    assert ds.cache.complete() and loader.cached is not None
    cached = list(loader)  # CachedBatches: read into pinned memory from the caching host allocator
    assert all(x.is_pinned() for x, _, _ in cached)
    stream = torch.cuda.Stream()
    device = torch.device("cuda")
    for (x_ref, i_ref), (x, _, i) in zip(decoded, cached, strict=True):
        assert torch.equal(i, i_ref)
        with torch.cuda.stream(stream):
            on_device = data.to_input(x, pre, device)  # non_blocking copy from pinned memory
        stream.synchronize()
        expected = data.to_input(x_ref, pre, torch.device("cpu"))
        assert on_device.device.type == "cuda"
        torch.testing.assert_close(on_device.cpu(), expected, atol=1e-6, rtol=0)


def test_predict_and_eval_reproduce_a_run_under_cuda_autocast(tiny, tmp_path, caplog):
    from train.predict import evaluate_manifest, predict_paths
    from train.runner import TrainOptions, train
    out = tmp_path / "run"
    caplog.set_level("INFO", logger="train.runner")
    train(tiny, TrainOptions(arch="resnet18", weights="none", epochs=1, img_size=32, batch_size=8, workers=0,
                             device="cuda", amp="bf16", review=3, cache_dir=tmp_path / "cache", out=out))
    assert "decoded 6 train images on cuda" in caplog.text  # the 6 train JPEGs, by nvJPEG in batches
    assert json.loads((out / "config.json").read_text())["amp"] == "bf16"
    assert torch.load(out / "model.pt", weights_only=True)["amp"] == "bf16"
    saved = pd.read_csv(out / "predictions.csv")
    probs = [c for c in saved.columns if c.startswith("p_")]
    predicted = predict_paths(out / "model.pt", [tiny.parent / p for p in saved[schema.PATH]], "cuda")
    assert np.abs(predicted[probs].to_numpy() - saved[probs].to_numpy()).max() <= 1e-5
    _, evaluated = evaluate_manifest(out / "model.pt", tiny, "val", "cuda")
    assert np.abs(evaluated[probs].to_numpy() - saved[probs].to_numpy()).max() <= 1e-5
