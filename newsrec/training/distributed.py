"""Data-parallel training with torch.distributed, started by `torchrun --nproc_per_node=N`.

torchrun sets RANK / WORLD_SIZE / MASTER_ADDR; a plain `newsrec train` is a world of one and
touches none of this. Every process holds the whole model and the news vectors, takes its
share of each batch (rows rank, rank + N, ...), and DistributedDataParallel averages the
gradients, so N processes take the same steps as one process on the full batch. The trainer
is CPU-only, hence the gloo backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch.distributed as dist
from torch import nn

from newsrec.environment import environment

__all__ = ["World", "join_world"]


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

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

        return DistributedDataParallel(module)

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


def join_world() -> World:
    """Join the process group torchrun set up, or return a world of one."""
    size = environment().world_size
    if size == 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return World(dist.get_rank(), size)
