"""The memory-mapped decode cache, batches read from it, no 1-image batches, GPU-path pieces on CPU."""

from __future__ import annotations

import os
import stat
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from manifests import schema
from train import cache as C
from train import data
from train.augment import DeviceAugment
from train.loaders import NoSingleBatches, split_loader
from train.model import Preprocess

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (gpu marker)")


def test_cache_keys_never_come_from_raw_manifest_values(tmp_path):
    good = "ab" * 32
    assert C.cache_key(good, tmp_path / "x.jpg") == good
    for hostile in ("../../etc/passwd", "a" * 63, "/abs", "zz" * 32, None, float("nan"), "A" * 64 + "/x"):
        key = C.cache_key(hostile, tmp_path / "x.jpg")
        assert C.SHA256_RE.fullmatch(key), hostile
    cache = C.TensorCache(tmp_path / "c", [C.cache_key("../../../x", tmp_path / "a.png")], 8, 8)
    cache.put(0, np.zeros((8, 8, 3), np.uint8))
    assert all(tmp_path / "c" in p.parents for p in (tmp_path / "c").rglob("*"))
    assert not (tmp_path.parent / "x").exists()


def test_cache_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        cache = C.TensorCache(tmp_path / "c", ["ab" * 32], 8, 8)
        cache.put(0, np.ones((8, 8, 3), np.uint8))
    finally:
        os.umask(old)
    for file in (cache.file, cache.flags_file):
        assert stat.S_IMODE(file.stat().st_mode) == 0o640, file


def test_a_slot_is_read_back_and_a_complete_cache_serves_whole_batches(tmp_path):
    keys = [f"{i:064x}" for i in range(5)]
    cache = C.TensorCache(tmp_path, keys, 4, 4)
    arrays = [np.full((4, 4, 3), i * 10, np.uint8) for i in range(5)]
    assert not cache.complete()
    for i, a in enumerate(arrays):
        assert np.array_equal(cache.get(i, lambda a=a: a), a)
    assert cache.complete()
    again = C.TensorCache(tmp_path, keys, 4, 4)  # another process or run: same file
    assert again.get(3, lambda: pytest.fail("decoded again"))[0, 0, 0] == 30
    batch = again.batch(np.array([4, 0, 2]))
    assert batch.shape == (3, 3, 4, 4) and batch[:, 0, 0, 0].tolist() == [40, 0, 20]


def test_no_training_batch_of_one_image_but_evaluation_sees_all(tiny, tmp_path):
    assert [len(b) for b in NoSingleBatches(range(225), 32, drop_last=False)] == [32] * 7
    assert len(NoSingleBatches(range(225), 32, drop_last=False)) == 7
    assert [len(b) for b in NoSingleBatches(range(226), 32, drop_last=False)][-1] == 2
    assert [len(b) for b in NoSingleBatches(range(1), 32, drop_last=False)] == [1]
    static = NoSingleBatches(range(70), 32, drop_last=True)  # --compile: one shape
    assert [len(b) for b in static] == [32, 32] and len(static) == 2
    table = data.load_table(tiny)
    frame = table.split("train")  # 15 rows: batches of 7 leave one
    pre = Preprocess(16, 16)
    ds = data.ManifestDataset(table, frame, pre, data.split_cache(tmp_path, table, frame, pre))
    train = split_loader(ds, 7, 0, False, train=True)
    assert [len(t) for _, t, _ in train] == [7, 7] and len(train) == 2
    assert not ds.cache.complete()  # the dropped image was never decoded
    evaluation = split_loader(ds, 7, 0, False, train=False)
    assert sorted(torch.cat([i for _, _, i in evaluation]).tolist()) == list(range(15))
    assert ds.cache.complete()
    assert [len(t) for _, t, _ in train] == [7, 7]  # now read from the memory map, same rule


def test_memory_map_batches_equal_decoded_batches(tiny, tmp_path):
    table = data.load_table(tiny)
    frame = table.split("val")
    pre = Preprocess(16, 16)
    ds = data.ManifestDataset(table, frame, pre, data.split_cache(tmp_path, table, frame, pre))
    loader = split_loader(ds, 4, 0, False, train=False)
    first = [(x.clone(), y.clone(), i.clone()) for x, y, i in loader]  # DataLoader, fills the cache
    assert ds.cache.complete() and loader.cached is not None
    second = list(loader)  # CachedBatches
    for (x1, y1, i1), (x2, y2, i2) in zip(first, second, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(i1, i2)


def test_device_augment_changes_images_per_sample_and_keeps_the_range():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 16, 16)
    assert DeviceAugment("none")(x) is x
    out = DeviceAugment("strong", seed=1)(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, x)
    same = x[:1].repeat(8, 1, 1, 1)
    varied = DeviceAugment("light", seed=2)(same)
    assert varied.std(dim=0).mean() > 0.01  # parameters drawn per image, not per batch
    with pytest.raises(ValueError):
        DeviceAugment("wild")


def _jpeg(tmp_path, name="a.jpg", size=(64, 48)):
    rng = np.random.default_rng(0)
    arr = np.kron(rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8),
                  np.ones((8, 8, 1), np.uint8))
    Image.fromarray(arr).save(tmp_path / name, quality=95)
    return tmp_path / name


def test_batched_jpeg_decode_matches_the_pil_path_on_cpu(tmp_path):
    paths = [_jpeg(tmp_path, f"{i}.jpg") for i in range(3)]
    (tmp_path / "b.png").write_bytes((tmp_path / "0.jpg").read_bytes())  # PNG name: left to PIL
    paths.append(tmp_path / "b.png")
    cache = C.TensorCache(tmp_path / "c", [f"{i:064x}" for i in range(4)], 16, 16)
    assert C.warm_gpu(cache, paths, 16, torch.device("cpu"), batch_size=2) == 3
    assert [cache.filled(i) for i in range(4)] == [True, True, True, False]
    pil = data.load_image(paths[0], Preprocess(16, 16)).astype(int)
    assert np.abs(cache.get(0, lambda: None).astype(int) - pil).mean() < 6  # resampling differs a little


def _bytes(path):
    return torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)


def test_torchcodec_decodes_the_pixels_pillow_does_and_warns_nothing(tmp_path):
    # issue 28: the batched decode runs through torchcodec (torchvision's decode_jpeg is deprecated)
    pytest.importorskip("torchcodec.decoders", reason="torchcodec is part of the project's dependencies")
    paths = [_jpeg(tmp_path, f"{i}.jpg", size=(64, 48)) for i in range(2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DeprecationWarning (torchvision.io) fails the test
        images = C.decode_jpegs([_bytes(p) for p in paths], torch.device("cpu"))
        cache = C.TensorCache(tmp_path / "c", [f"{i:064x}" for i in range(2)], 16, 16)
        assert C.warm_gpu(cache, paths, 16, torch.device("cpu")) == 2
    for path, image in zip(paths, images, strict=True):
        pil = np.asarray(Image.open(path).convert("RGB")).astype(int)
        got = image.permute(1, 2, 0).numpy().astype(int)
        assert got.shape == pil.shape
        assert np.abs(got - pil).mean() < 1.0 and np.abs(got - pil).max() <= 8  # JPEG decoders' rounding


def test_without_torchcodec_the_cache_decodes_with_pillow(tmp_path, monkeypatch):
    paths = [_jpeg(tmp_path, f"{i}.jpg") for i in range(2)]
    monkeypatch.setitem(sys.modules, "torchcodec.decoders", None)  # import fails as when not installed
    images = C.decode_jpegs([_bytes(p) for p in paths], torch.device("cpu"))
    assert np.array_equal(images[0].permute(1, 2, 0).numpy(), np.asarray(Image.open(paths[0]).convert("RGB")))
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(OSError):
        C.decode_jpegs([_bytes(tmp_path / "bad.jpg")], torch.device("cpu"))


@cuda
@pytest.mark.gpu
def test_gpu_jpeg_decode_fills_the_cache(tmp_path):
    paths = [_jpeg(tmp_path, f"{i}.jpg") for i in range(4)]
    cache = C.TensorCache(tmp_path / "c", [f"{i:064x}" for i in range(4)], 16, 16)
    assert C.warm_gpu(cache, paths, 16, torch.device("cuda"), batch_size=4) == 4
    pil = data.load_image(paths[0], Preprocess(16, 16)).astype(int)
    assert np.abs(cache.get(0, lambda: None).astype(int) - pil).mean() < 6


@cuda
@pytest.mark.gpu
def test_device_augment_on_cuda():
    x = torch.rand(4, 3, 16, 16, device="cuda")
    out = DeviceAugment("strong", seed=0)(x)
    assert out.device.type == "cuda" and out.shape == x.shape


def test_split_cache_is_keyed_by_the_validated_rows(tiny, tmp_path):
    table = data.load_table(tiny)
    frame = table.split("val").copy()
    frame[schema.SHA256] = "../../escape"
    cache = data.split_cache(tmp_path / "c", table, frame, Preprocess(16, 16))
    assert cache.file.parent == tmp_path / "c" / "16-16" and ".." not in cache.file.name


def test_eval_batches_are_the_batches_evaluation_runs_on_every_rank(tiny, tmp_path, monkeypatch):
    from train import loaders
    table = data.load_table(tiny)
    frame = table.split("val")  # 9 rows
    pre = Preprocess(16, 16)
    ds = data.ManifestDataset(table, frame, pre, data.split_cache(tmp_path, table, frame, pre))
    ran = [i.tolist() for _, _, i in split_loader(ds, 4, 0, False, train=False)]
    assert loaders.eval_batches(9, 4) == ran == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert loaders.eval_batches(9, 4, rows=[8, 5]) == [[4, 5, 6, 7], [8]]
    got = [i.tolist() for _, _, i in loaders.rows_loader(ds, [8, 5], 4, False, whole=True)]
    assert got == [[4, 5, 6, 7], [8]]
    assert [i.tolist() for _, _, i in loaders.rows_loader(ds, [8, 5], 4, False)] == [[8, 5]]
    per_rank = []  # under a process group of 2: what each rank's EvalShard batches
    for rank in (0, 1):
        monkeypatch.setattr(loaders, "rank_world", lambda rank=rank: (rank, 2))
        per_rank += [b.tolist() for _, _, b in split_loader(ds, 2, 0, False, train=False)]
    assert loaders.eval_batches(9, 2) == per_rank == [[0, 2], [4, 6], [8], [1, 3], [5, 7]]
