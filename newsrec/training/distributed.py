"""Data-parallel training with torch.distributed, started by `torchrun --nproc_per_node=N`
(and `--nnodes M --node_rank R --rdzv_endpoint HOST:PORT` across machines).

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR; a plain `newsrec train` is a world
of one and touches none of this. Every process holds the whole model and the news vectors,
takes its share of each batch (rows rank, rank + N, ...), and DistributedDataParallel averages
the gradients, so N processes take the same steps as one process on the full batch. On CUDA
each process drives the GPU of its LOCAL_RANK over NCCL; on the CPU the processes talk gloo.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
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

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This process's share of a batch."""
        return rows[self.rank :: self.size]

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
