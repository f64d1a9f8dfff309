"""The parts of a long job, each timed with the process's peak memory when it ended.

`with stages("encode news"): ...` logs `encode news: 61.2 s (peak RSS 1,904 MiB)` as the part
ends and keeps the record (with the GPU's peak memory on a GPU run), which `newsrec train`
writes into train_summary.json: at MIND-large size a user sees which part takes the time and
the memory, and bench/scale.py reads it.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["Stages", "peak_rss_mib"]

logger = logging.getLogger(__name__)


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stages:
    def __init__(self) -> None:
        self.records: list[dict] = []

    @contextmanager
    def __call__(self, name: str, logged: bool = True) -> Iterator[None]:
        """Time the part `name`; `logged=False` keeps the record without a line (a part another
        line tells, like an epoch's)."""
        started = time.perf_counter()
        yield
        record = {"stage": name, "seconds": round(time.perf_counter() - started, 2), "peak_rss_mib": peak_rss_mib()}
        if torch.cuda.is_initialized():  # a GPU run: its memory too
            record["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
        self.records.append(record)
        if logged:
            logger.info("%s: %.1f s (peak RSS %s MiB)", name, record["seconds"], f"{record['peak_rss_mib']:,.0f}")
