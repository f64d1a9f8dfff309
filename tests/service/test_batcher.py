"""Requests that arrive while one is computed are computed together, each getting its own answer."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from newsrec.service.batcher import Batcher, LoopBatcher
from tests.conftest import wait_until, wait_until_async


def test_requests_waiting_behind_a_batch_are_computed_together_and_answered_each():
    first_started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def compute(requests: list[int]) -> list[int]:
        batches.append(list(requests))
        if requests == [0]:
            first_started.set()
            release.wait(5)
        return [r * 10 for r in requests]

    batcher = Batcher(compute)
    answers: dict[int, int] = {}
    first = threading.Thread(target=lambda: answers.__setitem__(0, batcher.run(0)))
    first.start()
    assert first_started.wait(5)
    others = [threading.Thread(target=lambda i=i: answers.__setitem__(i, batcher.run(i))) for i in range(1, 6)]
    for t in others:
        t.start()
    wait_until(lambda: len(batcher._waiting) == 5, 5, "all five queued behind the running batch", every=0.005)
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert answers == {i: i * 10 for i in range(6)}
    assert batches[0] == [0] and sorted(batches[1]) == [1, 2, 3, 4, 5] and len(batches) == 2
    assert (batcher.batches, batcher.requests) == (2, 6)


def test_an_error_reaches_every_caller_of_its_batch_and_the_next_batch_still_runs():
    def compute(requests: list[int]) -> list[int]:
        if -1 in requests:
            raise ValueError("bad request in the batch")
        return requests

    batcher = Batcher(compute)
    with pytest.raises(ValueError, match="bad request"):
        batcher.run(-1)
    assert batcher.run(3) == 3


def test_many_callers_at_once_each_get_their_own_answer_and_none_is_left_waiting():
    """32 threads, 600 requests, batches of at most 8: each batch is held until a full next batch
    (or every request still unanswered) has queued behind it, so the batches are 1 (the first
    caller, alone), then 74 of 8, then the last 7: 76, whatever the threads' timing."""
    answered = 0

    def compute(requests: list[int]) -> list[int]:
        nonlocal answered  # only one batch computes at a time
        behind = min(8, 600 - answered - len(requests))
        wait_until(lambda: len(batcher._waiting) >= behind, 10, f"{behind} callers to queue", every=0.0005)
        answered += len(requests)
        return [r * 2 for r in requests]

    batcher = Batcher(compute, max_batch=8)
    with ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(batcher.run, r) for r in range(600)]
        assert [f.result(timeout=30) for f in futures] == [r * 2 for r in range(600)]  # a lost wake-up times out
    assert (batcher.requests, batcher.batches) == (600, 76) and not batcher._waiting


def test_coroutines_awaiting_behind_a_batch_are_computed_together_off_the_loop():
    started, release = threading.Event(), threading.Event()
    batches: list[tuple[list[int], str]] = []

    def compute(requests: list[int]) -> list[int]:
        batches.append((list(requests), threading.current_thread().name))
        if requests == [0]:
            started.set()
            release.wait(5)
        return [r * 10 for r in requests]

    async def scenario() -> list[int]:
        batcher = LoopBatcher(compute, "answers")
        first = asyncio.create_task(batcher.run(0))
        await wait_until_async(started.is_set, 5, "the first batch to start")  # the loop is free meanwhile
        others = [asyncio.create_task(batcher.run(i)) for i in range(1, 6)]
        await wait_until_async(lambda: len(batcher._waiting) == 5, 5, "five requests awaiting the next batch")
        release.set()
        answers = await asyncio.wait_for(asyncio.gather(first, *others), 5)
        assert (batcher.batches, batcher.requests) == (2, 6)
        batcher.close()
        return answers

    assert asyncio.run(scenario()) == [i * 10 for i in range(6)]
    assert [requests for requests, _ in batches] == [[0], [1, 2, 3, 4, 5]]
    assert all(thread.startswith("answers") for _, thread in batches)


def test_a_failing_request_fails_alone_a_caller_that_left_is_skipped_and_the_next_batch_runs():
    started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def compute(requests: list[int]) -> list[int]:
        batches.append(list(requests))
        if requests == [0]:
            started.set()
            release.wait(5)
        if -1 in requests:
            raise ValueError("bad request in the batch")
        return requests

    async def scenario() -> None:
        batcher = LoopBatcher(compute, "answers")
        first = asyncio.create_task(batcher.run(0))
        await wait_until_async(started.is_set, 5, "the first batch to start")
        waiting = [asyncio.create_task(batcher.run(r)) for r in (7, -1, 8, 9)]
        await wait_until_async(lambda: len(batcher._waiting) == 4, 5, "four requests awaiting the next batch")
        waiting[0].cancel()  # its client went away while it waited
        release.set()
        assert await asyncio.wait_for(first, 5) == 0
        with pytest.raises(ValueError, match="bad request"):
            await asyncio.wait_for(waiting[1], 5)
        assert await asyncio.wait_for(asyncio.gather(*waiting[2:]), 5) == [8, 9]  # their batch-mates failed, not they
        assert waiting[0].cancelled()
        assert await asyncio.wait_for(batcher.run(3), 5) == 3  # a lost batch would time out
        batcher.close()

    asyncio.run(scenario())
    assert batches[:3] == [[0], [7, -1, 8, 9], [7]] and [-1] in batches and [9] in batches
