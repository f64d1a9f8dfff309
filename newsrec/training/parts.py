"""Each process's part of the logs under torchrun, and the popularity replay they share.

Process r of N reads impressions r, r + N, ... of the training and validation logs (`read_part`)
and holds nothing else, so N processes on a machine hold the logs once between them, not N
times. The popularity replay is the exception: an impression's counts depend on every
impression before it in time, whichever process trains on it. So the main process reads the
whole training log without histories (candidates and clicks are all the replay reads), replays
it as one process would, and writes each candidate's counts to `--out`/replay
(`write_replay`); every process then takes the counts of its own candidates from there
(`read_replay`), lined up by each impression's place in the files (`Behaviors.origin`), and the
files are deleted. The
features a process trains on are those one process would compute for the same impression.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from newsrec.data.behaviors import Behaviors, BehaviorsFiles, positions_of
from newsrec.data.mind import Impression, News
from newsrec.data.missing_news import drop_missing_news
from newsrec.data.popularity import CountsBefore, Popularity, publication_times
from newsrec.training.distributed import World

__all__ = ["Log", "read_part", "shared_replay", "write_replay", "read_replay", "REPLAY_DIR"]

Log = Sequence[Impression] | BehaviorsFiles  # impressions in memory, or files each process reads its part of
REPLAY_DIR = "replay"  # in --out: the main process's replay, for the others
POPULARITY_FILE, COUNTS_FILE, COUNTS_AT_FILE = "popularity.json", "counts_before.npy", "counts_at.npy"


def read_part(log: Log, world: World, histories: bool = True) -> Behaviors:
    """This process's impressions of `log`: all of them in a world of one. `histories=False`
    leaves the histories out of what is read from files (a log in memory is already held)."""
    if isinstance(log, BehaviorsFiles):
        return log.read(world.rank, world.size, histories)
    behaviors = Behaviors.from_impressions(log)
    return behaviors if world.size == 1 else behaviors.part(world.rank, world.size)


def shared_replay(
    log: Log, part: Behaviors, news: dict[str, News], half_life_hours: float | None, world: World, out_dir: Path
) -> tuple[Popularity, CountsBefore]:
    """The popularity replay of the whole training log (run once, by the main process), and the
    counts before each candidate of this process's `part` (already through the missing-news rule)."""
    folder = out_dir / REPLAY_DIR
    with world.main_first():
        if world.is_main:
            _replay_whole(log, news, half_life_hours, folder)
    replayed = read_replay(folder, part)
    world.barrier()  # every process has taken its counts: the files (8 bytes a candidate) can go
    if world.is_main:
        shutil.rmtree(folder)
    return replayed


def _replay_whole(log: Log, news: dict[str, News], half_life_hours: float | None, folder: Path) -> None:
    """The replay of every impression, written for every process (the whole log is let go on return)."""
    whole, _ = drop_missing_news(read_part(log, World(), histories=False), news, require_click=True)
    write_replay(folder, whole, *Popularity.replay(whole, half_life_hours, publication_times(news)))


def write_replay(folder: Path, whole: Behaviors, popularity: Popularity, before: CountsBefore) -> None:
    """The final counts (popularity.json), and every candidate's clicks and views before its
    impression (counts_before.npy, float32 (slots, 2)), found by impression place through
    counts_at.npy (offsets, one more than the places)."""
    folder.mkdir(parents=True, exist_ok=True)
    places = int(whole.origin[-1]) + 1 if len(whole) else 0
    lengths = np.zeros(places, np.int64)
    lengths[whole.origin] = whole.candidate_counts()  # impressions the rules dropped keep none
    counts_at = np.zeros(places + 1, np.int64)
    np.cumsum(lengths, out=counts_at[1:])
    _write_atomically(folder / COUNTS_FILE, lambda to: np.save(to, np.stack([before.clicks, before.views], axis=1)))
    _write_atomically(folder / COUNTS_AT_FILE, lambda to: np.save(to, counts_at))
    _write_atomically(folder / POPULARITY_FILE, popularity.save)


def read_replay(folder: Path, part: Behaviors) -> tuple[Popularity, CountsBefore]:
    """The whole log's final counts, and the counts before each candidate slot of `part`."""
    try:
        popularity = Popularity.load(folder / POPULARITY_FILE)
        counts = np.load(folder / COUNTS_FILE, mmap_mode="r")  # only this part's rows are read
        counts_at = np.load(folder / COUNTS_AT_FILE, mmap_mode="r")
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"{e.filename} is missing: the main process writes the popularity replay into --out, "
            "so under torchrun on several machines --out must be a folder every machine reads"
        ) from None
    if not _lines_up(part, counts_at):
        raise ValueError(f"the replay in {folder} was made from other training data than this process's part")
    taken = counts[positions_of(counts_at, part.origin)]
    moments = np.where(np.isnan(part.moments), popularity.end, part.moments)
    first_seen = popularity.first_seen(part.news.ids)
    return popularity, CountsBefore(taken[:, 0].copy(), taken[:, 1].copy(), first_seen, moments)


def _lines_up(part: Behaviors, counts_at: np.ndarray) -> bool:
    """Whether every impression of `part` has as many counted candidates in the replay as it has."""
    if not len(part):
        return True
    if part.origin[-1] >= len(counts_at) - 1:
        return False
    return np.array_equal(counts_at[part.origin + 1] - counts_at[part.origin], part.candidate_counts())


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file, so a reader never sees half a file."""
    temporary = path.with_name(f"writing-{path.name}")  # the same suffix: np.save keeps the name
    write(temporary)
    os.replace(temporary, path)
