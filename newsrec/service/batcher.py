"""Requests that arrive while one is being computed are computed together (group commit).

The first caller computes its own request at once; callers that arrive meanwhile wait, and the
first of them computes all of theirs in one call when it is done. No timer: a lone request
waits for nothing, and under load a batch is whatever queued during the previous one. For the
exact search this turns B matrix-vector products (each reading every news vector) into one
matrix product that reads them once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Batcher"]

Request = TypeVar("Request")
Answer = TypeVar("Answer")


@dataclass
class _Slot:
    request: Any
    answer: Any = None
    error: BaseException | None = None
    done: bool = False


class Batcher(Generic[Request, Answer]):
    def __init__(self, compute: Callable[[list[Request]], list[Answer]], max_batch: int = 64):
        self.compute, self.max_batch = compute, max_batch
        self._waiting: list[_Slot] = []
        self._busy = False
        self._changed = threading.Condition()
        self.batches = 0  # batches computed, and the requests in them: the mean batch size is their ratio
        self.requests = 0

    def run(self, request: Request) -> Answer:
        """`request`'s answer, computed alone or with the requests waiting beside it."""
        slot = _Slot(request)
        with self._changed:
            self._waiting.append(slot)
        while True:
            with self._changed:
                while self._busy and not slot.done:
                    self._changed.wait()
                if slot.done:
                    break
                self._busy = True  # nobody is computing: this caller computes the queue's head
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            self._compute(batch)
        if slot.error is not None:
            raise slot.error
        return slot.answer

    def _compute(self, batch: list[_Slot]) -> None:
        try:
            answers = self.compute([s.request for s in batch])
            for s, answer in zip(batch, answers, strict=True):
                s.answer = answer
        except BaseException as error:  # every caller of the batch hears of it, not only this one
            for s in batch:
                s.error = error
        finally:
            with self._changed:
                for s in batch:
                    s.done = True
                self.batches, self.requests = self.batches + 1, self.requests + len(batch)
                self._busy = False
                self._changed.notify_all()
