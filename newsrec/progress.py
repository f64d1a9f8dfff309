"""Progress of long work: a bar on a terminal, a plain line every few seconds in a log.

Every stage that may take more than a few seconds (encoding, epochs, validation, evaluation,
predict, replay, LLM jobs) reports through `Progress` or `progress`. On a terminal that is a
tqdm bar with count, rate and time left. When stderr is not a terminal (a log file, CI) it is a
log line when the stage starts, then one every `NEWSREC_PROGRESS_SECONDS` (default 5) seconds:

    encoding with all-MiniLM-L6-v2: 2,048/118,294 texts (1.7%), 39.2 texts/s, 49 min left
    paraphrasing: 3/8,135 titles (0.0%), 4.4 titles/min, last 12 s ago, 31 h left; writing: 23 tokens, 9.8 tokens/s

Slow items are counted per minute, with the time since the last one finished. Work inside one
item says how it goes with `note` (the LLM backends: tokens written and tokens per second), so
a bar whose item takes minutes still moves. A stage that ran long enough to report on the way
closes with a line of its count and time.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

from newsrec.environment import environment

__all__ = ["Progress", "progress", "on_terminal", "duration", "note"]

logger = logging.getLogger("newsrec.progress")
T = TypeVar("T")
NOTE_REDRAW_SECONDS = 0.25  # a note changes with every token: the bar is redrawn at most this often
_open: list[Progress] = []  # the stages running now, innermost last: `note` goes to that one


def on_terminal() -> bool:
    """Whether a person watches stderr (a bar), rather than a file or a pipe (log lines)."""
    return sys.stderr.isatty()


def duration(seconds: float) -> str:
    """`1.4 s`, `42 s`, `4 min 19 s`, `3 h 05 min`."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def note(text: str) -> None:
    """Say how the item in work goes (e.g. `writing: 23 tokens, 9.8 tokens/s`) on the innermost
    running stage; nothing when no stage runs."""
    if _open:
        _open[-1].note(text)


class Progress:
    """Counts the work of one stage: `update(n)` as items finish; use it as a context manager."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "item", enabled: bool = True):
        self.desc, self.total, self.unit, self.done = desc, total, unit, 0
        self.enabled = enabled
        self.started = self._logged = self._finished = self._drawn = time.monotonic()
        self._reported, self._every, self._note = False, environment().progress_seconds, ""
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False) if enabled and on_terminal() else None
        if enabled and self._bar is None:
            logger.info("%s", self._line())
        _open.append(self)

    def update(self, n: int = 1) -> None:
        self.done += n
        self._finished, self._note = time.monotonic(), ""
        if self._bar is not None:
            self._bar.set_postfix_str("", refresh=False)
            self._bar.update(n)
        else:
            self._log_if_due()

    def note(self, text: str) -> None:
        self._note = text
        now = time.monotonic()
        if self._bar is not None and now - self._drawn >= NOTE_REDRAW_SECONDS:
            self._drawn = now
            self._bar.set_postfix_str(text)  # redraws the bar
        elif self._bar is None:
            self._log_if_due()

    def close(self) -> None:
        if self in _open:
            _open.remove(self)
        if self._bar is not None:
            self._bar.close()
        elif self._reported:
            logger.info("%s: %s %s in %s", self.desc, f"{self.done:,}", self.unit, duration(self.elapsed))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _log_if_due(self) -> None:
        if self.enabled and time.monotonic() - self._logged >= self._every:
            self._logged, self._reported = time.monotonic(), True
            logger.info("%s", self._line())

    def _line(self) -> str:
        count = f"{self.done:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.unit}"
        if self.total:
            count += f" ({100 * self.done / self.total:.1f}%)"
        detail = f"; {self._note}" if self._note else ""
        if not self.done:
            return f"{self.desc}: {count}{detail}"
        rate = self.done / max(self._finished - self.started, 1e-9)
        # under one item a second, "0.0 items/s" says nothing: count a minute's, and how long since the last
        pace = f"{rate:,.1f} {self.unit}/s" if rate >= 1 else f"{60 * rate:,.1f} {self.unit}/min"
        if rate < 1:
            pace += f", last {duration(time.monotonic() - self._finished)} ago"
        left = f", {duration((self.total - self.done) / rate)} left" if self.total else ""
        return f"{self.desc}: {count}, {pace}{left}{detail}"

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
