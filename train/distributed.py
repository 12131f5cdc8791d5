"""Everything that differs under ``torchrun``: rank and world, joining and leaving the process group,
gathering results, summing numbers and sharing rank 0's weights or choices.

Outside a process group (a plain run) every function here is the single-process answer: rank 0 of 1,
values returned as they are, nothing sent. Under ``torchrun`` each worker joins the group torchrun
describes (``init_distributed``), dies with its launcher (``die_with_launcher``), and the ranks leave
together once rank 0 wrote the outputs (``finish_distributed``).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from manifests import procs

log = logging.getLogger(__name__)


def rank_world() -> tuple[int, int]:
    """This process's rank and the world size (0, 1 outside a process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process is rank 0 (the one that writes and reports)."""
    return rank_world()[0] == 0


def barrier() -> None:
    """Wait for every rank (nothing outside a process group)."""
    if rank_world()[1] > 1:
        dist.barrier()


def from_rank0(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object; ``value`` itself outside a group)."""
    if rank_world()[1] == 1:
        return value
    chosen = [value]
    dist.broadcast_object_list(chosen, src=0)
    return chosen[0]


def gather_rows(index: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    """Rows computed by every rank (``values[k]`` belongs to row ``index[k]``) as one ``(n, ...)``
    tensor in row order, on every rank; outside a process group, just reordered."""
    index, values = index.cpu(), values.cpu()
    if rank_world()[1] > 1:
        parts: list[Any] = [None] * rank_world()[1]
        dist.all_gather_object(parts, (index.numpy(), values.numpy()))
        parts = [p for p in parts if len(p[0])] or parts[:1]
        index = torch.from_numpy(np.concatenate([p[0] for p in parts]))
        values = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    out = torch.empty((n, *values.shape[1:]), dtype=values.dtype)
    out[index] = values
    return out


def all_sum(*values: float) -> list[float]:
    """Sums of ``values`` over all ranks (the values themselves outside a process group)."""
    if rank_world()[1] == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


@torch.no_grad()
def sync_from_rank0(model: torch.nn.Module) -> None:
    """Every rank takes rank 0's weights and buffers (BatchNorm statistics drift apart in training:
    each rank updates them with its own batches), so all ranks evaluate the model rank 0 saves."""
    if rank_world()[1] == 1:
        return
    for tensor in model.state_dict().values():
        dist.broadcast(tensor, src=0)


def group_setup(cuda: bool) -> tuple[str, int | None]:
    """The process group's backend and this rank's GPU: NCCL on GPU ``LOCAL_RANK`` (torchrun's
    numbering on this machine) with CUDA, gloo and no GPU without."""
    if cuda:
        return "nccl", int(os.environ.get("LOCAL_RANK", "0"))
    return "gloo", None


def init_distributed() -> None:
    """Join the process group ``torchrun`` describes (WORLD_SIZE > 1); nothing otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        die_with_launcher()
        backend, gpu = group_setup(torch.cuda.is_available())
        dist.init_process_group(backend)
        if gpu is not None:
            torch.cuda.set_device(gpu)


def finish_distributed() -> None:
    """Leave the process group together: every rank waits until rank 0 has written the outputs, then the
    group is destroyed. A rank that exits with the group still alive can abort in gloo's threads
    ("terminate called without an active exception") while rank 0 is still working."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def die_with_launcher() -> None:
    """Under ``torchrun`` each worker runs in a session of its own, so a launcher killed with SIGKILL
    (``kill -9``, the OOM killer) would leave its workers training on as orphans, racing a later
    ``--resume`` for the run folder. On Linux, ask the kernel for SIGTERM when the parent (the
    launcher's agent) dies; checkpoints are replaced atomically, so dying anywhere keeps the last one."""
    if "TORCHELASTIC_RUN_ID" not in os.environ:
        return
    if not procs.die_with_parent(os.getppid(), signal.SIGTERM):
        log.debug("cannot ask to die with the launcher (prctl unavailable)")  # pragma: no mutate
