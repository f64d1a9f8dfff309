"""Files every worker maps: releasing written pages, and one writer at a time across processes."""

from __future__ import annotations

import fcntl
import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["release", "locked"]


def release(*maps: np.ndarray) -> None:
    """Unmap the pages of these file maps from this process: written ones stay in the page cache
    (the file), so the builder's memory stays at a chunk, not the whole vector file twice."""
    for array in maps:
        mapped = getattr(array, "_mmap", None)  # np.memmap's own mmap object (not typed by NumPy)
        if isinstance(mapped, mmap.mmap):
            mapped.madvise(mmap.MADV_DONTNEED)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        yield
