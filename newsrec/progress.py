"""Progress of long work: a bar on a terminal, a plain line every few seconds in a log.

Every stage that may take more than a few seconds (encoding, epochs, validation, evaluation,
predict, replay, LLM jobs) reports through `Progress` or `progress`. On a terminal that is a
tqdm bar with count, rate and time left. When stderr is not a terminal (a log file, CI) it is a
log line when the stage starts, then one every `NEWSREC_PROGRESS_SECONDS` (default 5) seconds:

    encoding with all-MiniLM-L6-v2: 2,048/118,294 texts (1.7%), 39.2 texts/s, 49 min left

and a closing line for a stage that ran long enough to report on the way.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

from newsrec.environment import environment

__all__ = ["Progress", "progress", "on_terminal"]

logger = logging.getLogger("newsrec.progress")
T = TypeVar("T")


def on_terminal() -> bool:
    """Whether a person watches stderr (a bar), rather than a file or a pipe (log lines)."""
    return sys.stderr.isatty()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Counts the work of one stage: `update(n)` as items finish; use it as a context manager."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "item", enabled: bool = True):
        self.desc, self.total, self.unit, self.done = desc, total, unit, 0
        self.enabled = enabled
        self.started = self._last = time.monotonic()
        self._reported, self._every = False, environment().progress_seconds
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False) if enabled and on_terminal() else None
        if enabled and self._bar is None:
            logger.info("%s", self._line())

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and time.monotonic() - self._last >= self._every:
            self._last, self._reported = time.monotonic(), True
            logger.info("%s", self._line())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._reported:
            logger.info("%s: %s %s in %s", self.desc, f"{self.done:,}", self.unit, _duration(self.elapsed))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _line(self) -> str:
        count = f"{self.done:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.unit}"
        if self.total:
            count += f" ({100 * self.done / self.total:.1f}%)"
        if not self.done:
            return f"{self.desc}: {count}"
        rate = self.done / max(self.elapsed, 1e-9)
        left = f", {_duration((self.total - self.done) / rate)} left" if self.total else ""
        return f"{self.desc}: {count}, {rate:,.1f} {self.unit}/s{left}"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(
    items: Iterable[T],
    desc: str,
    unit: str = "item",
    total: int | None = None,
    enabled: bool = True,
    by: Callable[[T], int] | None = None,
) -> Iterator[T]:
    """`items` one by one, each counted when the next is asked for (so the count is of finished
    items); `by` counts an item as several units (a chunk as its impressions)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(desc, total, unit, enabled) as bar:
        for item in items:
            yield item
            bar.update(by(item) if by else 1)
