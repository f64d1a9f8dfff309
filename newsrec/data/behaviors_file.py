"""behaviors.tsv lines into flat arrays: each line checked (a `MindFormatError` names file and
line), its ids mapped to codes, its runs appended (`ArrayBuilder`); `Behaviors` is made of what
it builds."""

from __future__ import annotations

import csv
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from newsrec.data.mind import BEHAVIORS_COLUMNS, NEWS_COLUMNS, Impression, MindFormatError, parse_time

if TYPE_CHECKING:  # behaviors.py imports this module to read files
    from newsrec.data.behaviors import NewsIds

__all__ = ["ArrayBuilder", "tsv_rows", "NO_LABEL", "TEXT"]

NO_LABEL = -1  # a candidate of an unlabelled (test) impression
STRING_BLOCK = 65_536  # lines whose id, user and time strings are packed into an array at once
TEXT = np.dtypes.StringDType()  # short strings live inside the array's 16-byte slots


def tsv_rows(path: Path) -> Iterator[tuple[str, list[str]]]:
    # MIND titles contain quotes: read tab-separated with quoting off
    with path.open(encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if row and any(cell.strip() for cell in row):
                yield f"{path}:{line_no}", row


class ArrayBuilder:
    """Grows the arrays line by line (array.array: 4 bytes a code, no Python object per id).

    `histories=False` leaves every history empty: what the popularity replay reads is the
    candidates and their clicks only."""

    def __init__(self, news: NewsIds, histories: bool = True):
        self.news, self.histories = news, histories
        self.strings: list[tuple[str, str, str]] = []  # impression id, user id, time: made into arrays
        self.string_arrays: list[np.ndarray] = []  # every STRING_BLOCK lines (no Python str per line kept)
        self.history, self.candidates = array("i"), array("i")
        self.labels = array("b")
        self.history_at, self.candidates_at = array("q", [0]), array("q", [0])
        self.moments = array("d")
        self.origin = array("q")  # each impression's place among those its files hold

    @property
    def count(self) -> int:
        return len(self.moments)

    def add(self, where: str, row: list[str], origin: int) -> None:
        """One behaviors.tsv line, checked (MindFormatError names file and line); `origin`: its
        impression's place in the files read."""
        if len(row) != BEHAVIORS_COLUMNS:
            news = ": this looks like a news file, give behaviors.tsv" if len(row) == NEWS_COLUMNS else ""
            raise MindFormatError(
                f"{where}: expected {BEHAVIORS_COLUMNS} tab-separated columns "
                f"(impression id, user id, time, history, impressions), found {len(row)}{news}"
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
        clicked = history.split() if self.histories else []
        self._append(origin, imp_id, user_id or f"imp-{imp_id}", time, moment, clicked, ids, labels)

    def add_impression(self, imp: Impression) -> None:
        labels = [NO_LABEL] * len(imp.candidates) if imp.labels is None else imp.labels
        history = imp.history if self.histories else []
        place = self.count  # in the list given
        self._append(place, imp.impression_id, imp.user_id, imp.time, imp.timestamp, history, imp.candidates, labels)

    def _append(
        self,
        origin: int,
        imp_id: str,
        user_id: str,
        time: str,
        moment: float | None,
        history: list[str],
        candidates: list[str],
        labels: list[int],
    ) -> None:
        self.origin.append(origin)
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

    def arrays(self) -> dict[str, np.ndarray]:
        """What `Behaviors` is made of besides its `NewsIds`, by the names its constructor takes."""
        self._strings_to_array()
        strings = np.concatenate(self.string_arrays) if len(self.string_arrays) > 1 else self.string_arrays[0]
        return {
            "impression_ids": strings[:, 0].copy(),
            "user_ids": strings[:, 1].copy(),
            "times": strings[:, 2].copy(),
            "history": np.frombuffer(self.history, np.int32),
            "history_at": np.frombuffer(self.history_at, np.int64),
            "candidates": np.frombuffer(self.candidates, np.int32),
            "candidates_at": np.frombuffer(self.candidates_at, np.int64),
            "labels": np.frombuffer(self.labels, np.int8),
            "moments": np.frombuffer(self.moments, np.float64),
            "origin": np.frombuffer(self.origin, np.int64),
        }


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
