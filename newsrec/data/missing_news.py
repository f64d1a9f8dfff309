"""The missing-news rule: ids that news.tsv lacks are dropped from histories and candidate lists
(`drop_missing_news`, with a `MissingNewsReport` of what went), and the news a log uses, in the
order it first uses them (`news_used_by`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from newsrec.data.behaviors import Behaviors, positions_of
from newsrec.data.mind import Impression, News

__all__ = ["MissingNewsReport", "drop_missing_news", "news_used_by"]

logger = logging.getLogger(__name__)
USED_CHUNK = 100_000  # impressions whose news are looked at together (bounded memory)


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
