"""train.loaders on the cases mutation testing found unchecked (docs/testing.md): the length of the
no-single-image batches for every small size, the train order per seed, the batches kept by default
and dropped under ``static`` (from the DataLoader and from the complete memory map), loaders with a
worker process, and rows gathered and sums taken over a real 2-process gloo group."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from train import data, distributed, loaders
from train.loaders import NoSingleBatches, split_loader
from train.model import Preprocess


def _dataset(tiny: Path, tmp_path: Path, split: str = "train") -> data.ManifestDataset:
    table = data.load_table(tiny)
    frame = table.split(split)  # train: 15 rows, val: 9
    pre = Preprocess(16, 16)
    return data.ManifestDataset(table, frame, pre, data.split_cache(tmp_path, table, frame, pre))


def _expected(n: int, size: int, drop_last: bool) -> list[list[int]]:
    """The rule of the module docstring, on a list: chunks of ``size``; under ``drop_last`` no short
    chunk, otherwise no final chunk of one image unless it is the only one."""
    chunks = [list(range(n))[i:i + size] for i in range(0, n, size)]
    if drop_last:
        return [c for c in chunks if len(c) == size]
    return chunks[:-1] if len(chunks) > 1 and len(chunks[-1]) == 1 else chunks


@pytest.mark.parametrize("drop_last", [False, True])
def test_no_single_batches_yield_and_count_the_rule_for_every_small_size(drop_last: bool) -> None:
    for n in range(14):
        for size in range(2, 6):
            batches = NoSingleBatches(range(n), size, drop_last=drop_last)
            want = _expected(n, size, drop_last)
            assert list(batches) == want, (n, size)
            assert len(batches) == len(want), (n, size)


def _order(ds: data.ManifestDataset, **seed: int) -> list[int]:
    return torch.cat([i for _, _, i in split_loader(ds, 4, 0, False, train=True, **seed)]).tolist()


def test_train_order_is_the_seeded_permutation(tiny, tmp_path) -> None:
    ds = _dataset(tiny, tmp_path)
    for seed in (0, 5):
        want = torch.randperm(15, generator=torch.Generator().manual_seed(seed)).tolist()
        assert _order(ds, seed=seed) == want == _order(ds, seed=seed)
    assert _order(ds) == _order(ds, seed=0)  # the default seed is 0: reruns take the same order
    assert _order(ds, seed=0) != _order(ds, seed=5)


def test_train_batches_keep_the_remainder_unless_static_even_from_the_memory_map(tiny, tmp_path) -> None:
    ds = _dataset(tiny, tmp_path)
    sizes = [len(t) for _, t, _ in split_loader(ds, 4, 0, False, train=True)]
    assert sizes == [4, 4, 4, 3]  # by default a remainder of 3 is trained on
    ds = _dataset(tiny, tmp_path / "static")
    static = split_loader(ds, 4, 0, False, train=True, static=True)
    assert [len(t) for _, t, _ in static] == [4, 4, 4]
    assert not ds.cache.complete()  # the 3 left out were never decoded
    evaluation = split_loader(ds, 4, 0, False, train=False, static=True)  # evaluation keeps every row
    assert sorted(torch.cat([i for _, _, i in evaluation]).tolist()) == list(range(15))
    assert ds.cache.complete()
    # now both read the memory map: same rules
    assert [len(t) for _, t, _ in static] == [4, 4, 4] and len(static) == 3
    assert sorted(torch.cat([i for _, _, i in evaluation]).tolist()) == list(range(15))


def test_the_batches_keep_their_sampler(tiny, tmp_path) -> None:
    ds = _dataset(tiny, tmp_path)
    sampler = torch.utils.data.SequentialSampler(range(15))
    train = split_loader(ds, 4, 0, False, train=True, sampler=sampler)
    assert train.sampler is sampler  # the training loop calls its set_epoch
    assert [i.tolist() for _, _, i in train] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14]]
    assert isinstance(split_loader(ds, 4, 0, False, train=False).sampler, loaders.EvalShard)


def test_a_loader_with_a_worker_process_gives_the_same_batches(tiny, tmp_path) -> None:
    ds = _dataset(tiny, tmp_path, "val")
    alone = [(x.clone(), i.clone()) for x, _, i in split_loader(ds, 4, 0, False, train=False)]
    ds = _dataset(tiny, tmp_path / "w", "val")
    worker = split_loader(ds, 4, 1, False, train=False)
    assert worker.loader.num_workers == 1
    got = list(worker.loader)
    assert len(got) == len(alone) == 3
    for (x1, i1), (x2, _, i2) in zip(alone, got, strict=True):
        assert torch.equal(x1, x2) and torch.equal(i1, i2)


def test_outside_a_process_group_rows_are_reordered_and_sums_are_the_values() -> None:
    out = distributed.gather_rows(torch.tensor([2, 0, 1]), torch.tensor([[20, 21], [0, 1], [10, 11]]), 3)
    assert out.tolist() == [[0, 1], [10, 11], [20, 21]]
    assert distributed.all_sum(1.5, 2.0, 0.0) == [1.5, 2.0, 0.0]


def test_rows_and_exact_sums_over_a_two_process_gloo_group_match_one_process(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]  # the tree the tests run from (mutmut: its copy)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    # the rank's module imports torch, train.distributed and train.loaders only (not torchvision)
    code = "import sys; from tests.train.gloo_rank import run_rank; " \
           "run_rank(int(sys.argv[1]), 2, int(sys.argv[2]), sys.argv[3])"
    ranks = [subprocess.Popen([sys.executable, "-c", code, str(rank), str(port), str(tmp_path)], cwd=root,
                              env=env) for rank in (0, 1)]
    assert [p.wait(timeout=300) for p in ranks] == [0, 0]
    # one process holding every row gets what both ranks get together (in this process, so mutmut
    # also times this test for gather_rows and all_sum, whose group branch runs in the ranks)
    alone = distributed.gather_rows(torch.tensor([4, 3, 2, 1, 0]), torch.tensor([[40, 41], [30, 31], [20, 21],
                                                                             [10, 11], [0, 1]]), 5).tolist()
    assert alone == [[0, 1], [10, 11], [20, 21], [30, 31], [40, 41]]
    assert distributed.all_sum(1.0 + 2.0, 0.0 + 2.0, 0.5 + 0.5, 2.0**25 + 1) == [3.0, 2.0, 1.0, 2.0**25 + 1]
    for rank in (0, 1):
        found = json.loads((tmp_path / f"{rank}.json").read_text(encoding="utf-8"))
        assert found["5"] == alone, rank
        assert found["1"] == [[0, 1]], rank
        assert found["sum"] == [3.0, 2.0, 1.0, 2.0**25 + 1], rank


def test_a_cache_of_larger_squares_still_gives_input_size_batches_once_complete(tiny, tmp_path) -> None:
    """``--cache-size``: the memory map holds 32 px squares for a 16 px input, so a complete cache is
    still read through the dataset (resized per image), never as whole batches of cached squares."""
    table = data.load_table(tiny)
    frame = table.split("val")
    pre = Preprocess(16, 16)
    ds = data.ManifestDataset(table, frame, pre, data.split_cache(tmp_path, table, frame, pre, size=32))
    batches = split_loader(ds, 4, 0, False, train=False)
    first = [(x.clone(), i.clone()) for x, _, i in batches]
    assert ds.cache.complete() and ds.cache.size == 32
    again = list(batches)
    assert [tuple(x.shape[1:]) for x, _, _ in again] == [(3, 16, 16)] * len(first)
    for (x1, i1), (x2, _, i2) in zip(first, again, strict=True):
        assert torch.equal(x1, x2) and torch.equal(i1, i2)
