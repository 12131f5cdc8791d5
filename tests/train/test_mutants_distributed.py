"""train.distributed on what mutation testing found unchecked (docs/testing.md): every function's
single-process answer (rank 0 of 1, values as they are, nothing sent, no group joined, no death signal
armed), and under a real 2-process gloo group joined the way ``torchrun`` describes it (``WORLD_SIZE``,
``RANK``, ``MASTER_ADDR``/``MASTER_PORT``, ``TORCHELASTIC_RUN_ID``): the ranks, rank 0's choice and
weights on every rank, a barrier that waits, the kernel's parent-death signal (read back with
``prctl``), and a group left together once rank 0 has written."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

from train import distributed

PR_GET_PDEATHSIG = 2


def _death_signal() -> int:
    """The signal the kernel sends this process when its parent dies (0: none), as prctl reports it."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    sig = ctypes.c_int(-1)
    assert libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(sig), 0, 0, 0) == 0
    return sig.value


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    model.train()
    model(torch.randn(4, 3) + seed)  # BatchNorm statistics of this rank's own batch
    return model


def _state(model: torch.nn.Module) -> dict[str, list]:
    return {k: v.tolist() for k, v in model.state_dict().items()}


def test_outside_a_process_group_every_function_is_the_single_process_answer(monkeypatch) -> None:
    _alone(monkeypatch)


def _alone(monkeypatch) -> None:
    for name in ("WORLD_SIZE", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    before = _death_signal()
    distributed.init_distributed()
    monkeypatch.setenv("WORLD_SIZE", "1")
    distributed.init_distributed()
    assert not dist.is_initialized()
    assert distributed.rank_world() == (0, 1) and distributed.is_main()
    distributed.barrier()
    choice = {"seed": 3}
    assert distributed.from_rank0(choice) is choice
    model = _model(1)
    want = _state(model)
    distributed.sync_from_rank0(model)
    assert _state(model) == want
    distributed.die_with_launcher()  # not under torchrun: no death signal asked for
    assert _death_signal() == before
    distributed.finish_distributed()
    assert not dist.is_initialized()


def test_the_group_runs_nccl_on_the_local_ranks_gpu_with_cuda_and_gloo_without(monkeypatch) -> None:
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert distributed.group_setup(False) == ("gloo", None)
    assert distributed.group_setup(True) == ("nccl", 0)  # torchrun always sets it; one GPU: the first
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert distributed.group_setup(True) == ("nccl", 3)
    assert distributed.group_setup(False) == ("gloo", None)


def _rank(out: str) -> None:
    """One torchrun-like worker: joins through ``init_distributed`` and writes what it saw."""
    distributed.init_distributed()
    rank, world = distributed.rank_world()
    found = {"rank": rank, "world": world, "main": distributed.is_main(), "backend": dist.get_backend(),
             "death_signal": _death_signal(), "choice": distributed.from_rank0({"seed": 10 + rank})}
    model = _model(rank)
    found["own_state"] = _state(model)
    distributed.sync_from_rank0(model)
    found["state"] = _state(model)
    marks = Path(out)
    if rank == 0:
        time.sleep(0.5)  # rank 1 reaches the barrier first and must wait there
        (marks / "before_barrier").touch()
    distributed.barrier()
    found["barrier_waited"] = (marks / "before_barrier").exists()
    if rank == 0:
        time.sleep(0.5)
        (marks / "outputs").touch()  # rank 0 writes the run's outputs, then leaves
    distributed.finish_distributed()
    found["left_after_outputs"] = (marks / "outputs").exists()
    found["still_in_group"] = dist.is_initialized()
    Path(out, f"{rank}.json").write_text(json.dumps(found), encoding="utf-8")


def test_ranks_joined_as_torchrun_describes_share_rank0s_choice_and_weights_and_leave_together(
        tmp_path, monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]  # the tree the tests run from (mutmut: its copy)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
           "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
           "TORCHELASTIC_RUN_ID": "test", "CUDA_VISIBLE_DEVICES": ""}
    code = "import sys; from tests.train.test_mutants_distributed import _rank; _rank(sys.argv[1])"
    ranks = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=root,
                              env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}) for rank in (0, 1)]
    assert [p.wait(timeout=300) for p in ranks] == [0, 0]
    found = [json.loads((tmp_path / f"{rank}.json").read_text(encoding="utf-8")) for rank in (0, 1)]
    rank0 = found[0]["own_state"]
    assert found[1]["own_state"] != rank0  # the ranks started apart
    for rank, seen in enumerate(found):
        assert (seen["rank"], seen["world"], seen["main"]) == (rank, 2, rank == 0)
        assert seen["backend"] == "gloo"  # no CUDA device visible
        assert seen["death_signal"] == signal.SIGTERM  # dies with the launcher
        assert seen["choice"] == {"seed": 10}
        assert seen["state"] == rank0
        assert seen["barrier_waited"] and seen["left_after_outputs"] and not seen["still_in_group"]
    # the same functions in this process too (mutmut times a test only for the functions it calls in
    # the process it runs in; the group branches ran in the ranks)
    _alone(monkeypatch)
    assert distributed.group_setup(False) == ("gloo", None)
