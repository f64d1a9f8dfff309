"""Requests that arrive while one is being computed are computed together (group commit).

The first caller computes its own request at once; callers that arrive meanwhile wait, and the
first of them computes all of theirs in one call when it is done. No timer: a lone request
waits for nothing, and under load a batch is whatever queued during the previous one. For the
exact search this turns B matrix-vector products (each reading every news vector) into one
matrix product that reads them once.

Each waiting caller is woken once, by its own event: when its answer is ready, or when it is to
compute the next batch. (Waking every waiter on every batch, as one shared condition would, cost
a fifth of a busy worker's GIL time.)

`Batcher` serves threads; `LoopBatcher` serves coroutines of one event loop and computes each
batch in a thread of its own, so the loop hands work to a thread once per batch, not once per
request.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Batcher", "LoopBatcher"]

Request = TypeVar("Request")
Answer = TypeVar("Answer")


@dataclass
class _Slot:
    request: Any
    answer: Any = None
    error: BaseException | None = None
    batch: list[_Slot] | None = None  # set when this slot's caller is to compute this batch
    woken: threading.Event = field(default_factory=threading.Event)


class Batcher(Generic[Request, Answer]):
    def __init__(self, compute: Callable[[list[Request]], list[Answer]], max_batch: int = 64):
        self.compute, self.max_batch = compute, max_batch
        self._waiting: list[_Slot] = []
        self._busy = False  # a caller is computing a batch; then new callers wait
        self._lock = threading.Lock()
        self.batches = 0  # batches computed, and the requests in them: the mean batch size is their ratio
        self.requests = 0

    def run(self, request: Request) -> Answer:
        """`request`'s answer, computed alone or with the requests waiting beside it."""
        slot = _Slot(request)
        with self._lock:
            if self._busy:
                self._waiting.append(slot)
            else:
                self._busy, slot.batch = True, [slot]
        if slot.batch is None:
            slot.woken.wait()  # answered by another caller's batch, or handed the next batch
        if slot.batch is not None:
            self._compute(slot.batch)
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
        with self._lock:
            self.batches, self.requests = self.batches + 1, self.requests + len(batch)
            following, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            self._busy = bool(following)
        if following:  # the first caller that waited computes the next batch
            following[0].batch = following
            following[0].woken.set()
        for s in batch[1:]:  # the first is this caller's own: nobody waits on it
            s.woken.set()


class LoopBatcher(Generic[Request, Answer]):
    """The same group commit for coroutines on one event loop: `await run(request)`.

    A batch is computed in this batcher's own thread (the loop stays free to read and answer
    other connections); the requests awaited meanwhile form the next batch. A batch that fails is
    computed again one request at a time, so only the requests that fail alone hear of an error
    (one bad request does not fail the others that waited beside it). A caller that goes away
    (its task cancelled) is simply not answered."""

    def __init__(self, compute: Callable[[list[Request]], list[Answer]], name: str, max_batch: int = 64):
        self.compute, self.max_batch = compute, max_batch
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._waiting: list[tuple[Request, asyncio.Future]] = []
        self._busy = False
        self.batches = 0
        self.requests = 0

    async def run(self, request: Request) -> Answer:
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        self._waiting.append((request, answer))
        if not self._busy:
            self._start(loop)
        return await answer

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
        self._busy = bool(batch)
        if batch:
            work = loop.run_in_executor(self._thread, self._outcomes, [request for request, _ in batch])
            work.add_done_callback(lambda done: self._finish(loop, batch, done))

    def _outcomes(self, requests: list[Request]) -> list[tuple[Any, BaseException | None]]:
        """(answer, None) or (None, error) for each request: together, or alone if that failed."""
        try:
            return [(answer, None) for answer in self.compute(requests)]
        except Exception as error:
            if len(requests) == 1:
                return [(None, error)]
        return [self._outcomes([request])[0] for request in requests]

    def _finish(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[Request, asyncio.Future]], done) -> None:
        closed = done.cancelled()  # the batcher was closed before this batch ran
        escaped = None if closed else done.exception()  # not an Exception (e.g. SystemExit): for all
        outcomes = done.result() if not closed and escaped is None else [(None, escaped)] * len(batch)
        for (_, future), (answer, error) in zip(batch, outcomes, strict=True):
            if future.done():  # cancelled: its caller went away
                continue
            if closed:
                future.cancel()
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(answer)
        self.batches, self.requests = self.batches + 1, self.requests + len(batch)
        self._start(loop)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
