"""Data-parallel training with torch.distributed, started by `torchrun --nproc_per_node=N`
(and `--nnodes M --node_rank R --rdzv_endpoint HOST:PORT` across machines).

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR; a plain `newsrec train` is a world
of one and touches none of this. Every process holds the whole model, reads and trains on its
own part of the impressions (every N-th; training/parts.py), and DistributedDataParallel
averages the gradients of each step; sums, extremes and gathered objects (`total`, `most`,
`least`, `gather`) keep what all processes decide alike. On CUDA each process drives the GPU
of its LOCAL_RANK over NCCL; on the CPU the processes talk gloo.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from newsrec.environment import environment

__all__ = ["World", "join_world"]

CPU = torch.device("cpu")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = CPU  # this process's device

    @property
    def is_main(self) -> bool:
        """The process that writes files and logs."""
        return self.rank == 0

    def total(self, count: int) -> int:
        """`count` summed over every process."""
        return self._reduce(count, dist.ReduceOp.SUM)

    def most(self, count: int) -> int:
        """The largest `count` of any process."""
        return self._reduce(count, dist.ReduceOp.MAX)

    def least(self, count: int) -> int:
        """The smallest `count` of any process."""
        return self._reduce(count, dist.ReduceOp.MIN)

    def _reduce(self, count: int, op: dist.ReduceOp.RedOpType) -> int:
        if self.size == 1:
            return count
        value = torch.tensor([count], dtype=torch.int64, device=self.device)  # NCCL reduces on the GPU
        dist.all_reduce(value, op)
        return int(value.item())

    def gather(self, thing: Any) -> list[Any]:
        """Every process's `thing` (picklable), in rank order, in every process."""
        if self.size == 1:
            return [thing]
        gathered: list[Any] = [None] * self.size
        dist.all_gather_object(gathered, thing)
        return gathered

    def wrap(self, module: nn.Module) -> nn.Module:
        if self.size == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """The main process runs the block first (e.g. filling a cache), the others after it."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()


def join_world(device: torch.device) -> World:
    """Join the process group torchrun set up (NCCL on CUDA, else gloo), or return a world of one.
    Under torchrun on CUDA each process takes the GPU of its LOCAL_RANK."""
    env = environment()
    if env.world_size == 1:
        return World(device=device)
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), env.world_size, device)
