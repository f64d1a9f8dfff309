"""Impressions as flat arrays: a MIND-large log (2.2M impressions) in a few hundred MB.

News ids are mapped once to int32 codes (`NewsIds`); every history and every candidate list is
a run in one array, found by offsets (`history[history_at[i]:history_at[i + 1]]`), with the
candidates' labels (int8: 1 clicked, 0 not, -1 none given) beside them. A few hundred bytes an
impression, where a Python `Impression` with its id strings took about 3 KB.

`Behaviors` is a sequence of `Impression`s: `behaviors[i]` makes one when asked for, so code
that reads a few impressions keeps its plain form, while training, evaluation and prediction
read the arrays. `Behaviors.read` reads a behaviors.tsv whole, or one process's part of it
(every N-th impression: under torchrun a process holds its part only); `Behaviors.stream` reads
it in chunks that share one `NewsIds`, so a 2.37M-impression test file is never in memory at
once. Each impression keeps its place in the files (`origin`), which lines a part up with the
whole log (the popularity replay, training/sharded_replay.py). `BehaviorsFiles` names files to
read later, by whichever process needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from newsrec.data.behaviors_file import NO_LABEL, ArrayBuilder, tsv_rows
from newsrec.data.mind import Impression, resolve_mind_file

__all__ = [
    "NewsIds",
    "Behaviors",
    "BehaviorsFiles",
    "NO_LABEL",
    "read_behaviors",
    "read_all_behaviors",
    "positions_of",
]


class NewsIds:
    """News id <-> int32 code, in order of first appearance; one per data set, shared by its chunks."""

    def __init__(self, ids: Iterable[str] = ()):
        self.ids: list[str] = []
        self.code: dict[str, int] = {}
        for news_id in ids:
            self.add(news_id)

    def add(self, news_id: str) -> int:
        code = self.code.get(news_id)
        if code is None:
            code = self.code[news_id] = len(self.ids)
            self.ids.append(news_id)
        return code

    def codes(self, news_ids: Iterable[str]) -> list[int]:
        add = self.add
        return [add(i) for i in news_ids]

    def __len__(self) -> int:
        return len(self.ids)


class Behaviors(Sequence[Impression]):
    """Impressions in arrays (see the module docstring); `news` maps the codes back to ids."""

    def __init__(
        self,
        news: NewsIds,
        impression_ids: np.ndarray,
        user_ids: np.ndarray,
        times: np.ndarray,
        history: np.ndarray,
        history_at: np.ndarray,
        candidates: np.ndarray,
        candidates_at: np.ndarray,
        labels: np.ndarray,
        moments: np.ndarray,
        origin: np.ndarray,
    ):
        self.news = news
        self.impression_ids, self.user_ids, self.times = impression_ids, user_ids, times  # strings, as written
        self.history, self.history_at = history, history_at  # int32 codes; int64 offsets (n + 1)
        self.candidates, self.candidates_at, self.labels = candidates, candidates_at, labels
        self.moments = moments  # float64 seconds since the epoch; NaN where the file gives no time
        self.origin = origin  # int64: each impression's place among all those its files (or list) hold

    # --- reading ---------------------------------------------------------------------------------
    @classmethod
    def read(
        cls,
        paths: str | Path | Sequence[str | Path],
        news: NewsIds | None = None,
        part: int = 0,
        parts: int = 1,
        histories: bool = True,
    ) -> Behaviors:
        """The impressions of one or more behaviors.tsv files (or folders), in order: all of them,
        or with `parts` > 1 part `part` of that many (impressions part, part + parts, ...; the
        other lines are checked for columns only). `histories=False` leaves the histories empty."""
        if not 0 <= part < parts:
            raise ValueError(f"part {part} of {parts} does not exist")
        builder = ArrayBuilder(NewsIds() if news is None else news, histories)
        place = 0
        for path in [paths] if isinstance(paths, (str, Path)) else paths:
            for where, row in tsv_rows(resolve_mind_file(path, "behaviors.tsv")):
                if place % parts == part:
                    builder.add(where, row, place)
                place += 1
        return cls._built(builder)

    @classmethod
    def stream(cls, path: str | Path, chunk: int = 50_000, news: NewsIds | None = None) -> Iterator[Behaviors]:
        """The impressions of one file in chunks of at most `chunk`, sharing one `NewsIds`."""
        builder = ArrayBuilder(NewsIds() if news is None else news)
        for place, (where, row) in enumerate(tsv_rows(resolve_mind_file(path, "behaviors.tsv"))):
            builder.add(where, row, place)
            if builder.count == chunk:
                yield cls._built(builder)
                builder = ArrayBuilder(builder.news)
        if builder.count:
            yield cls._built(builder)

    @classmethod
    def from_impressions(cls, impressions: Iterable[Impression], news: NewsIds | None = None) -> Behaviors:
        if isinstance(impressions, Behaviors):
            return impressions
        builder = ArrayBuilder(NewsIds() if news is None else news)
        for imp in impressions:
            builder.add_impression(imp)
        return cls._built(builder)

    @classmethod
    def _built(cls, builder: ArrayBuilder) -> Behaviors:
        return cls(builder.news, **builder.arrays())

    # --- the sequence ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.impression_ids)

    @overload
    def __getitem__(self, index: int) -> Impression: ...

    @overload
    def __getitem__(self, index: slice) -> Behaviors: ...

    def __getitem__(self, index: int | slice) -> Impression | Behaviors:
        if isinstance(index, slice):
            return self.select(np.arange(len(self))[index])
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"impression {index} of {len(self)}")
        ids = self.news.ids
        start, end = self.candidates_at[index], self.candidates_at[index + 1]
        labels = self.labels[start:end]
        return Impression(
            str(self.impression_ids[index]),
            str(self.user_ids[index]),
            str(self.times[index]),
            [ids[c] for c in self.history[self.history_at[index] : self.history_at[index + 1]].tolist()],
            [ids[c] for c in self.candidates[start:end].tolist()],
            None if len(labels) and labels[0] == NO_LABEL else labels.tolist(),
        )

    def chunks(self, size: int) -> Iterator[Behaviors]:
        for start in range(0, len(self), size):
            yield self[start : start + size]

    def part(self, part: int, parts: int) -> Behaviors:
        """Impressions part, part + parts, ...: what `read(..., part, parts)` would have read."""
        return self.select(np.arange(part, len(self), parts))

    # --- arrays ----------------------------------------------------------------------------------
    def candidate_counts(self) -> np.ndarray:
        return np.diff(self.candidates_at)

    def clicks(self) -> int:
        return int((self.labels == 1).sum())

    def impression_of_slot(self) -> np.ndarray:
        """(slots,) the impression each candidate slot belongs to."""
        return np.repeat(np.arange(len(self), dtype=_index_type(len(self))), self.candidate_counts())

    def select(self, keep: np.ndarray, history: np.ndarray | None = None, slots: np.ndarray | None = None) -> Behaviors:
        """The impressions `keep` (indices, in that order), with only the history entries and
        candidate slots whose mask (`history`, `slots`: over all of them) is True."""
        keep = np.asarray(keep, np.int64)
        new_history, history_at = _runs(self.history, self.history_at, keep, history)
        new_candidates, candidates_at = _runs(self.candidates, self.candidates_at, keep, slots)
        new_labels, _ = _runs(self.labels, self.candidates_at, keep, slots)
        return Behaviors(
            self.news,
            self.impression_ids[keep],
            self.user_ids[keep],
            self.times[keep],
            new_history,
            history_at,
            new_candidates,
            candidates_at,
            new_labels,
            self.moments[keep],
            self.origin[keep],
        )

    def nbytes(self) -> int:
        """Bytes held by the arrays (the strings' slots included, not their arenas)."""
        strings = (self.impression_ids, self.user_ids, self.times)
        runs = (self.history, self.history_at, self.candidates, self.candidates_at, self.labels)
        return sum(a.nbytes for a in (*strings, self.moments, self.origin, *runs))


@dataclass(frozen=True)
class BehaviorsFiles:
    """behaviors.tsv files (or folders) to read, in order, when a process knows which part it
    needs; `until`: only the impressions before this moment (seconds; untimed ones stay)."""

    paths: tuple[Path, ...]
    until: float | None = None

    def read(self, part: int = 0, parts: int = 1, histories: bool = True) -> Behaviors:
        """All impressions, or part `part` of `parts` (see `Behaviors.read`)."""
        behaviors = Behaviors.read(self.paths, part=part, parts=parts, histories=histories)
        if self.until is None:
            return behaviors
        return behaviors.select(np.flatnonzero(~(behaviors.moments >= self.until)))


def _runs(
    values: np.ndarray, at: np.ndarray, keep: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The runs of impressions `keep`, only the entries where `mask` holds: (values, offsets)."""
    out_at = np.zeros(len(keep) + 1, np.int64)
    np.cumsum(at[keep + 1] - at[keep], out=out_at[1:])
    if len(keep) == len(at) - 1 and np.array_equal(keep, np.arange(len(keep))):
        index: np.ndarray | slice = slice(at[0], at[-1])  # all of them, in order: no gather
    else:
        index = positions_of(at, keep)
    gathered = values[index]
    if mask is None:
        return gathered, out_at
    kept = mask[index]
    before: np.ndarray = np.zeros(len(kept) + 1, _index_type(len(kept)))  # entries kept before each position
    np.cumsum(kept, out=before[1:])
    return gathered[kept], before[out_at].astype(np.int64)


def _index_type(size: int) -> type:
    return np.int32 if size < 2**31 else np.int64  # half the memory of int64 for any real log


def positions_of(at: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """The positions of runs `runs` (indices into offsets `at`), run after run."""
    lengths = at[runs + 1] - at[runs]
    return np.repeat(at[runs] - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())


def read_behaviors(path: str | Path) -> list[Impression]:
    """A behaviors.tsv as `Impression`s (small files; `Behaviors.read` keeps big ones in arrays).
    Candidates without labels (test files) give `labels=None`."""
    return list(Behaviors.read(path))


def read_all_behaviors(paths: Sequence[str | Path]) -> list[Impression]:
    """The impressions of several behaviors files (or folders), in order."""
    return list(Behaviors.read(paths))
