"""One rank of the 2-process gloo group of tests/train/test_mutants_loaders.py, in a module of its own:
a rank imports torch, ``train.distributed`` and ``train.loaders`` only, not the test module (whose
imports pull in torchvision: seconds of CPU per rank)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.distributed as dist

from train import distributed, loaders


def run_rank(rank: int, world: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        found = {}
        for n in (5, 1):  # 5 rows: rank 0 has 0, 2, 4 and rank 1 has 1, 3; one row: rank 1 has none
            index = torch.tensor(list(loaders.EvalShard(n)), dtype=torch.int64)
            values = torch.stack([index * 10, index * 10 + 1], dim=1)
            found[n] = distributed.gather_rows(index, values, n).tolist()
        # 2**24 + 1 and above are not float32 numbers: the sum is taken in float64
        found["sum"] = distributed.all_sum(float(rank + 1), 2.0 * rank, 0.5, 2.0**24 + rank)
        Path(out, f"{rank}.json").write_text(json.dumps(found), encoding="utf-8")
    finally:
        dist.destroy_process_group()
