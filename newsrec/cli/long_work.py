"""Long LLM work says how long it will take before it runs.

A job over many items (summaries, paraphrases) first counts what earlier runs finished, times
its first items (the model loaded beforehand, so loading is not counted), and states the
estimate for the rest:

    paraphrasing: 8,135 titles, none done by an earlier run
    the first 2 took 13 s each: the other 8,133 titles would take about 30 h 30 min at this
    machine's pace now (load 1.2). Use --limit N for fewer; Ctrl-C stops it, and a rerun resumes.
    Go on? [y/N]:

On a terminal it asks before work over a minute (`--yes` skips the question); elsewhere (a log,
CI) it states the estimate and goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import typer

from newsrec.cli.console import notices
from newsrec.progress import Progress, duration, on_terminal

__all__ = ["run_announced", "WARMUP_ITEMS", "ASK_ABOVE_SECONDS"]

T = TypeVar("T")
R = TypeVar("R")
WARMUP_ITEMS = 2  # timed before the estimate, unless they take over WARMUP_SECONDS together
WARMUP_SECONDS = 30.0
ASK_ABOVE_SECONDS = 60.0  # work estimated shorter than this starts without a question


def asks_first() -> bool:
    """Whether a person can answer: both the keyboard and the screen are a terminal."""
    return on_terminal() and os.isatty(0)


def run_announced(
    items: Sequence[T],
    work: Callable[[T], R],
    done_before: Callable[[T], bool],
    load: Callable[[list[T]], None],
    desc: str,
    unit: str,
    yes: bool = False,
) -> list[R]:
    """`work(item)` for each item, in order, after stating the estimate (and, on a terminal, asking).
    `done_before` says which items an earlier run finished (their `work` is a cache look-up);
    `load(todo)` loads what the rest needs, before the timing."""
    todo = [i for i, item in enumerate(items) if not done_before(item)]
    earlier = len(items) - len(todo)
    notices.print(f"{desc}: {len(items):,} {unit}, {f'{earlier:,}' if earlier else 'none'} done by an earlier run")
    results: dict[int, R] = {}
    if todo:
        load([items[i] for i in todo])
        each = _warm_up(items, todo, work, results, unit)
        _announce(len(results), each, len(todo) - len(results), unit, yes)
    new = set(todo)
    with Progress(desc, len(todo) - len(results), unit) as bar:
        for i, item in enumerate(items):
            if i not in results:
                results[i] = work(item)
                if i in new:  # counted: an earlier run's item is only looked up
                    bar.update()
    return [results[i] for i in range(len(items))]


def _warm_up(items: Sequence[T], todo: list[int], work: Callable[[T], R], results: dict[int, R], unit: str) -> float:
    """Seconds per item over the first of `todo` (into `results`)."""
    started = time.monotonic()
    with Progress(f"timing the first {unit}", min(WARMUP_ITEMS, len(todo)), unit) as bar:
        for i in todo[:WARMUP_ITEMS]:
            results[i] = work(items[i])
            bar.update()
            if time.monotonic() - started > WARMUP_SECONDS:
                break
    return (time.monotonic() - started) / len(results)


def _announce(timed: int, each: float, left: int, unit: str, yes: bool) -> None:
    """State the time `left` items will take at `each` seconds (as the first `timed` took); on a
    terminal ask before long work."""
    if not left:
        return
    estimate = each * left
    first = f"the first {timed} took {duration(each)} each" if timed > 1 else f"the first took {duration(each)}"
    notices.print(
        f"{first}: the other {left:,} {unit} would take about {duration(estimate)} "
        f"at this machine's pace now (load {os.getloadavg()[0]:.1f}). Use --limit N for fewer; "
        "Ctrl-C stops it, and a rerun resumes."
    )
    if (
        estimate > ASK_ABOVE_SECONDS
        and not yes
        and asks_first()
        and not typer.confirm("Go on?", default=False, err=True)
    ):
        notices.print(f"stopped before the other {left:,} {unit}; what was done is kept, and a rerun starts after it")
        raise typer.Exit(1)
