"""Impressions as flat arrays: a MIND-large log (2.2M impressions) in a few hundred MB.

News ids are mapped once to int32 codes (`NewsIds`); every history and every candidate list is
a run in one array, found by offsets (`history[history_at[i]:history_at[i + 1]]`), with the
candidates' labels (int8: 1 clicked, 0 not, -1 none given) beside them. A few hundred bytes an
impression, where a Python `Impression` with its id strings took about 3 KB.

`Behaviors` is a sequence of `Impression`s: `behaviors[i]` makes one when asked for, so code
that reads a few impressions keeps its plain form, while training, evaluation and prediction
read the arrays. `Behaviors.read` reads a behaviors.tsv whole; `Behaviors.stream` reads it in
chunks that share one `NewsIds`, so a 2.37M-impression test file is never in memory at once.
"""

from __future__ import annotations

import csv
import logging
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np

from newsrec.data.mind import BEHAVIORS_COLUMNS, Impression, MindFormatError, News, parse_time, resolve_mind_file

__all__ = [
    "NewsIds",
    "Behaviors",
    "NO_LABEL",
    "read_behaviors",
    "read_all_behaviors",
    "MissingNewsReport",
    "drop_missing_news",
    "news_used_by",
    "positions_of",
]

logger = logging.getLogger(__name__)
NO_LABEL = -1  # a candidate of an unlabelled (test) impression
USED_CHUNK = 100_000  # impressions whose news are looked at together (bounded memory)
STRING_BLOCK = 65_536  # lines whose id, user and time strings are packed into an array at once
TEXT = np.dtypes.StringDType()  # short strings live inside the array's 16-byte slots


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
    ):
        self.news = news
        self.impression_ids, self.user_ids, self.times = impression_ids, user_ids, times  # strings, as written
        self.history, self.history_at = history, history_at  # int32 codes; int64 offsets (n + 1)
        self.candidates, self.candidates_at, self.labels = candidates, candidates_at, labels
        self.moments = moments  # float64 seconds since the epoch; NaN where the file gives no time

    # --- reading ---------------------------------------------------------------------------------
    @classmethod
    def read(cls, paths: str | Path | Sequence[str | Path], news: NewsIds | None = None) -> Behaviors:
        """Every impression of one or more behaviors.tsv files (or folders), in order."""
        builder = _Builder(NewsIds() if news is None else news)
        for path in [paths] if isinstance(paths, (str, Path)) else paths:
            for where, row in _rows(resolve_mind_file(path, "behaviors.tsv")):
                builder.add(where, row)
        return builder.build()

    @classmethod
    def stream(cls, path: str | Path, chunk: int = 50_000, news: NewsIds | None = None) -> Iterator[Behaviors]:
        """The impressions of one file in chunks of at most `chunk`, sharing one `NewsIds`."""
        builder = _Builder(NewsIds() if news is None else news)
        for where, row in _rows(resolve_mind_file(path, "behaviors.tsv")):
            builder.add(where, row)
            if builder.count == chunk:
                yield builder.build()
                builder = _Builder(builder.news)
        if builder.count:
            yield builder.build()

    @classmethod
    def from_impressions(cls, impressions: Iterable[Impression], news: NewsIds | None = None) -> Behaviors:
        if isinstance(impressions, Behaviors):
            return impressions
        builder = _Builder(NewsIds() if news is None else news)
        for imp in impressions:
            builder.add_impression(imp)
        return builder.build()

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
        )

    def nbytes(self) -> int:
        """Bytes held by the arrays (the strings' slots included, not their arenas)."""
        arrays = (self.impression_ids, self.user_ids, self.times, self.moments, self.history, self.history_at)
        return sum(a.nbytes for a in (*arrays, self.candidates, self.candidates_at, self.labels))


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


def _rows(path: Path) -> Iterator[tuple[str, list[str]]]:
    # MIND titles contain quotes: read tab-separated with quoting off
    with path.open(encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if row and any(cell.strip() for cell in row):
                yield f"{path}:{line_no}", row


class _Builder:
    """Grows the arrays line by line (array.array: 4 bytes a code, no Python object per id)."""

    def __init__(self, news: NewsIds):
        self.news = news
        self.strings: list[tuple[str, str, str]] = []  # impression id, user id, time: made into arrays
        self.string_arrays: list[np.ndarray] = []  # every STRING_BLOCK lines (no Python str per line kept)
        self.history, self.candidates = array("i"), array("i")
        self.labels = array("b")
        self.history_at, self.candidates_at = array("q", [0]), array("q", [0])
        self.moments = array("d")

    @property
    def count(self) -> int:
        return len(self.moments)

    def add(self, where: str, row: list[str]) -> None:
        """One behaviors.tsv line, checked (MindFormatError names file and line)."""
        if len(row) != BEHAVIORS_COLUMNS:
            raise MindFormatError(
                f"{where}: expected {BEHAVIORS_COLUMNS} tab-separated columns "
                f"(impression id, user id, time, history, impressions), found {len(row)}"
            )
        imp_id, user_id, time, history, shown = (c.strip() for c in row)
        if not imp_id:
            raise MindFormatError(f"{where}: the impression id (column 1) is empty")
        tokens = shown.split()
        if not tokens:
            raise MindFormatError(f"{where}: impression {imp_id} lists no candidates (column 5)")
        try:
            moment = parse_time(time)
        except ValueError as e:
            raise MindFormatError(f"{where}: {e}") from None
        ids, labels = _candidates(tokens, where)
        # MIND's train/dev samples here have no user id: each impression is its own user
        self._append(imp_id, user_id or f"imp-{imp_id}", time, moment, history.split(), ids, labels)

    def add_impression(self, imp: Impression) -> None:
        labels = [NO_LABEL] * len(imp.candidates) if imp.labels is None else imp.labels
        self._append(imp.impression_id, imp.user_id, imp.time, imp.timestamp, imp.history, imp.candidates, labels)

    def _append(
        self,
        imp_id: str,
        user_id: str,
        time: str,
        moment: float | None,
        history: list[str],
        candidates: list[str],
        labels: list[int],
    ) -> None:
        self.strings.append((imp_id, user_id, time))
        if len(self.strings) == STRING_BLOCK:
            self._strings_to_array()
        self.moments.append(np.nan if moment is None else moment)
        self.history.extend(self.news.codes(history))
        self.history_at.append(len(self.history))
        self.candidates.extend(self.news.codes(candidates))
        self.labels.extend(labels)
        self.candidates_at.append(len(self.candidates))

    def _strings_to_array(self) -> None:
        self.string_arrays.append(np.array(self.strings, TEXT).reshape(-1, 3))
        self.strings = []

    def build(self) -> Behaviors:
        self._strings_to_array()
        strings = np.concatenate(self.string_arrays) if len(self.string_arrays) > 1 else self.string_arrays[0]
        return Behaviors(
            self.news,
            strings[:, 0].copy(),
            strings[:, 1].copy(),
            strings[:, 2].copy(),
            np.frombuffer(self.history, np.int32),
            np.frombuffer(self.history_at, np.int64),
            np.frombuffer(self.candidates, np.int32),
            np.frombuffer(self.candidates_at, np.int64),
            np.frombuffer(self.labels, np.int8),
            np.frombuffer(self.moments, np.float64),
        )


def _candidates(tokens: list[str], where: str) -> tuple[list[str], list[int]]:
    """`N1-1 N2-0` -> ids and labels; `N1 N2` (a test file) -> ids and NO_LABEL each."""
    if "-" not in tokens[0] and not any("-" in t for t in tokens):
        return tokens, [NO_LABEL] * len(tokens)
    ids, labels = [], []
    for token in tokens:
        news_id, dash, label = token.rpartition("-")
        if not dash:
            raise MindFormatError(f"{where}: some candidates have a -0/-1 label and some do not")
        if label not in ("0", "1") or not news_id:
            raise MindFormatError(f"{where}: candidate {token!r} should look like N123-1 or N123-0")
        ids.append(news_id)
        labels.append(int(label == "1"))
    return ids, labels


def read_behaviors(path: str | Path) -> list[Impression]:
    """A behaviors.tsv as `Impression`s (small files; `Behaviors.read` keeps big ones in arrays).
    Candidates without labels (test files) give `labels=None`."""
    return list(Behaviors.read(path))


def read_all_behaviors(paths: Sequence[str | Path]) -> list[Impression]:
    """The impressions of several behaviors files (or folders), in order."""
    return list(Behaviors.read(paths))


@dataclass
class MissingNewsReport:
    """What :func:`drop_missing_news` removed because news.tsv lacks the ids."""

    history_dropped: int = 0
    candidates_dropped: int = 0
    impressions_dropped: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.history_dropped or self.candidates_dropped or self.impressions_dropped)

    def summary(self) -> str:
        parts = []
        if self.history_dropped or self.candidates_dropped:
            examples = f" (e.g. {', '.join(self.examples[:5])})" if self.examples else ""
            parts.append(
                f"{self.history_dropped} history ids and {self.candidates_dropped} candidate ids are missing "
                f"from news.tsv{examples}: they were dropped"
            )
        if self.impressions_dropped:
            parts.append(f"{self.impressions_dropped} impressions left without a click or candidate were skipped")
        return "; ".join(parts)


def drop_missing_news(
    impressions: Iterable[Impression], news: dict[str, News], require_click: bool
) -> tuple[Behaviors, MissingNewsReport]:
    """Apply the missing-news rule: ids absent from news.tsv are dropped.

    History ids without text carry no signal and are removed. Candidates without text are
    removed too; an impression then left with no candidate (or, when `require_click`, no click)
    is skipped. Prediction does not use this: there every listed candidate keeps a rank.
    """
    behaviors = Behaviors.from_impressions(impressions)
    known = np.array([news_id in news for news_id in behaviors.news.ids], dtype=bool)
    history, slots = known[behaviors.history], known[behaviors.candidates]
    before = np.zeros(len(slots) + 1, np.int64)  # candidates with text before each slot
    np.cumsum(slots, out=before[1:])
    with_text = before[behaviors.candidates_at[1:]] - before[behaviors.candidates_at[:-1]]
    clicked = np.zeros(len(behaviors), bool)
    clicked[behaviors.impression_of_slot()[slots & (behaviors.labels == 1)]] = True
    keep = (with_text > 0) & (clicked | (not require_click))
    missing = np.concatenate([behaviors.history[~history][:10], behaviors.candidates[~slots][:10]])
    report = MissingNewsReport(
        int((~history).sum()),
        int((~slots).sum()),
        int(len(behaviors) - keep.sum()),
        list(dict.fromkeys(behaviors.news.ids[c] for c in missing.tolist()))[:10],
    )
    if report.any:
        logger.warning(report.summary())
    return behaviors.select(np.flatnonzero(keep), history, slots), report


def news_used_by(impressions: Iterable[Impression], news: dict[str, News]) -> dict[str, News]:
    """The news items these impressions show or hold in a history, in order of first use.

    The order lets a long job over them (LLM enrichment) stop early and still cover whole
    impressions.
    """
    behaviors = Behaviors.from_impressions(impressions)
    first = np.full(len(behaviors.news), np.iinfo(np.int64).max)  # each code's first place in the stream
    h_at, c_at = behaviors.history_at, behaviors.candidates_at
    for start in range(0, len(behaviors), USED_CHUNK):  # "impression 1: history, candidates; impression 2: ..."
        runs = np.arange(start, min(len(behaviors), start + USED_CHUNK))
        history, candidates = positions_of(h_at, runs), positions_of(c_at, runs)
        # an entry's place: its position plus the entries of the other kind listed before it
        history_place = history + np.repeat(c_at[runs], h_at[runs + 1] - h_at[runs])
        candidate_place = candidates + np.repeat(h_at[runs + 1], c_at[runs + 1] - c_at[runs])
        np.minimum.at(first, behaviors.history[history], history_place)
        np.minimum.at(first, behaviors.candidates[candidates], candidate_place)
    used = np.flatnonzero(first < np.iinfo(np.int64).max)
    ids = behaviors.news.ids
    return {ids[c]: news[ids[c]] for c in used[np.argsort(first[used], kind="stable")] if ids[c] in news}
