"""Data-parallel training with ``torch.distributed`` (DDP), launched by ``torchrun``.

``torchrun --nproc_per_node=N -m cnnlab train ...`` starts N processes with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR``/``MASTER_PORT``
in their environment; `setup` joins them into one process group (gloo on
the CPU, NCCL on GPUs).  Every process draws the same global batch (same seed,
same epoch, same augmentation stream) and keeps its own slice of it
(`shard`), so that with DDP's averaging of gradients (Li et al. 2020,
"PyTorch distributed", Sec. 3) one step equals a single-process step on the
whole global batch: ``--batch-size`` is the global batch.  Only rank 0 writes
the run directory and prints; all ranks evaluate the same validation set with
the same weights, so early-stopping decisions agree without communication.

Several machines: run the same ``torchrun`` command on each with
``--nnodes=M --node_rank=i --rdzv_endpoint=HOST:PORT`` (see the README).
Batch-norm statistics are per process (as with ``DistributedDataParallel``
without ``SyncBatchNorm``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: its rank among ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: torch.device) -> DistributedContext:
    """Join the process group that ``torchrun`` set up, if any (else a single process)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return DistributedContext(dist.get_rank(), dist.get_world_size())


def shard(context: DistributedContext, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """This rank's rows (rank, rank + W, rank + 2W, ...) of each batch tensor."""
    if not context.enabled:
        return tensors
    return tuple(t[context.rank :: context.world_size] for t in tensors)


def all_sum(context: DistributedContext, value: torch.Tensor) -> torch.Tensor:
    """``value`` summed over all ranks (unchanged in a single process)."""
    if context.enabled:
        value = value.clone()
        dist.all_reduce(value)
    return value


def broadcast_object(context: DistributedContext, obj):
    """Rank 0's ``obj`` on every rank (e.g. the run directory, whose name has a time stamp)."""
    if not context.enabled:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier(context: DistributedContext) -> None:
    if context.enabled:
        dist.barrier()
