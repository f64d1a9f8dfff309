"""Requests per key in a sliding window, without threads or per-request lists.

The count is the sliding-window counter estimate (the previous fixed window weighted by how much
of it still overlaps the sliding one, plus the current window): O(1) time and memory per key.
(`limits`' in-memory storage starts a timer thread every 10 ms and keeps one timestamp per
request, which cost the service a third of its throughput at high limits.) Runs on the event
loop only, so it takes no locks.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

__all__ = ["Rate", "SlidingWindowLimiter"]

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
EPSILON = 1e-3  # at the computed moment the estimate equals the rate; it must fall below it


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """ "600/minute" -> Rate(600, 60); periods: second, minute, hour, day."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*", text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"{text!r} is not a rate like 600/minute or 10/second")
        return cls(int(match.group(1)), PERIODS[match.group(2)])


@dataclass
class _Window:
    start: float  # the current fixed window began here
    current: int = 0
    previous: int = 0


class SlidingWindowLimiter:
    def __init__(self, rate: Rate, max_keys: int = 100_000):
        self.rate, self.max_keys = rate, max_keys
        self._windows: dict[str, _Window] = {}

    def wait(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` may send again; 0 if it may now. Counts nothing."""
        now = time.monotonic() if now is None else now
        window = self._window(key, now)
        elapsed = (now - window.start) / self.rate.seconds  # share of the current window gone by
        if window.previous * (1 - elapsed) + window.current < self.rate.count:
            return 0.0
        if window.current >= self.rate.count:  # this window alone is full: wait into the next one,
            to_next = window.start + self.rate.seconds - now  # until this window's weight falls enough
            return to_next + self.rate.seconds * (1 - self.rate.count / window.current) + EPSILON
        # the previous window's weight must fall until the estimate is below the rate
        free_at = 1 - (self.rate.count - window.current) / window.previous
        return max(0.0, (free_at - elapsed) * self.rate.seconds) + EPSILON

    def hit(self, key: str, now: float | None = None) -> float:
        """Count a request unless it is over the rate; returns `wait` (0 = counted)."""
        now = time.monotonic() if now is None else now
        retry = self.wait(key, now)
        if not retry:
            self._windows[key].current += 1
        return retry

    def _window(self, key: str, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= self.max_keys:
                self._forget_idle(now)
            window = self._windows[key] = _Window(now - now % self.rate.seconds)
        gone = math.floor((now - window.start) / self.rate.seconds)
        if gone:  # roll forward: one window gone keeps its count as the previous one
            window.previous = window.current if gone == 1 else 0
            window.current = 0
            window.start += gone * self.rate.seconds
        return window

    def _forget_idle(self, now: float) -> None:
        """Drop keys silent for two windows (they count nothing any more); else the oldest half."""
        idle = [k for k, w in self._windows.items() if now - w.start >= 2 * self.rate.seconds]
        for key in idle or sorted(self._windows, key=lambda k: self._windows[k].start)[: self.max_keys // 2]:
            del self._windows[key]
