"""What the bench scripts share: a measurement in a fresh process with its peak memory,
medians of repeated runs, the machine's description and Markdown tables.

Each method runs in its own new Python process (spawned, not forked), so one method's memory,
warm caches and spinning thread pools never leak into the next one's figures.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PEER_PACKAGES = ("torch", "transformers", "sentence-transformers", "faiss-cpu", "numpy", "fastapi", "uvicorn")


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run `fn(*args)` in a new Python process: (its result, that process's peak RSS in MiB)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, fn, args).result()


def _measured(fn: Callable[..., Any], args: tuple) -> tuple[Any, float]:
    result = fn(*args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def mind_or_synthetic(mind: Path | None, folder: Path, tiny: bool = True) -> Path:
    """The MIND folder when it holds news.tsv, else a synthetic world written into `folder`
    (300 news and 60 users when `tiny`, the demo's world otherwise)."""
    if mind is not None and (mind / "news.tsv").is_file():
        return mind
    from newsrec.data.synthetic import SyntheticWorldConfig, write_world

    return write_world(folder / "world", SyntheticWorldConfig(n_news=300, n_users=60) if tiny else None)


def median_seconds(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """One warm-up call (whose result is returned), then the median wall time of `repeats` calls."""
    result = run()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def machine() -> str:
    """One paragraph: CPU, cores, memory, bf16 support, Python and package versions, date."""
    import torch

    from newsrec.precision import native_bf16

    cpu = platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    packages = []
    for name in PEER_PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            packages.append(f"{name} {version(name)}")
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, native bf16: {'yes' if native_bf16() else 'no'}, "
        f"torch threads {torch.get_num_threads()}; Python {platform.python_version()}, {', '.join(packages)}; "
        f"measured {date.today().isoformat()}."
    )


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)
