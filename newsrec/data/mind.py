"""Readers and writers for MIND's `news.tsv` and `behaviors.tsv`.

MIND layout (https://msnews.github.io):

- news.tsv: id, category, subcategory, title, abstract, url, title entities, abstract entities
- behaviors.tsv: impression id, user id, time, history (space-separated news ids, oldest
  first), impressions (`N123-1` clicked, `N456-0` shown and not clicked; the label may be
  absent in a test file)

A path may name the file itself or a split folder holding `news.tsv` / `behaviors.tsv`.
Malformed lines raise :class:`MindFormatError` naming the file, the line and the fault.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

__all__ = [
    "News",
    "Impression",
    "MindFormatError",
    "MissingNewsReport",
    "parse_time",
    "MIND_TIME",
    "resolve_mind_file",
    "read_news",
    "write_news",
    "read_behaviors",
    "read_all_behaviors",
    "write_behaviors",
    "drop_missing_news",
    "news_used_by",
]

logger = logging.getLogger(__name__)

MIND_TIME = "%m/%d/%Y %I:%M:%S %p"
NEWS_COLUMNS = 8
BEHAVIORS_COLUMNS = 5


class MindFormatError(ValueError):
    """A MIND file has a line that cannot be read; the message names file and line."""


@dataclass(frozen=True)
class News:
    """One news item. Only `news_id` and `title` are required."""

    news_id: str
    title: str
    category: str = ""
    subcategory: str = ""
    abstract: str = ""
    url: str = ""
    # LLM enrichment (newsrec enrich); not part of MIND's files
    summary: str = ""
    keywords: str = ""


@dataclass
class Impression:
    """One impression: a user, their click history and the candidates shown.

    `labels` is None for unlabeled (test) files; otherwise 1 = clicked, 0 = not clicked.
    """

    impression_id: str
    user_id: str
    time: str
    history: list[str]
    candidates: list[str]
    labels: list[int] | None = None

    @property
    def timestamp(self) -> float | None:
        """The impression's time in seconds since the epoch (UTC), or None where the file has none."""
        return parse_time(self.time)

    @property
    def clicked(self) -> list[str]:
        if self.labels is None:
            return []
        return [c for c, y in zip(self.candidates, self.labels) if y == 1]


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
        shown = ", ".join(self.examples[:5])
        return (
            f"{self.history_dropped} history ids and {self.candidates_dropped} candidate ids are "
            f"missing from news.tsv (e.g. {shown}); they were dropped, and "
            f"{self.impressions_dropped} impressions left without a click or candidate were skipped"
        )


def parse_time(text: str) -> float | None:
    """MIND's `11/13/2019 8:36:57 AM` (taken as UTC) or ISO 8601 -> epoch seconds; "" -> None."""
    if not text:
        return None
    for parse in (lambda t: datetime.strptime(t, MIND_TIME), datetime.fromisoformat):
        try:
            moment = parse(text)
        except ValueError:
            continue
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    raise ValueError(f"time {text!r} should look like 11/13/2019 8:36:57 AM or 2019-11-13T08:36:57")


def resolve_mind_file(path: str | Path, file_name: str) -> Path:
    """Return `path` if it is a file, else `path/file_name`; raise a clear error if absent."""
    p = Path(path)
    if p.is_dir():
        p = p / file_name
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist: give a MIND {file_name} or a folder holding one")
    return p


def _rows(path: Path):
    # MIND titles contain quotes: read tab-separated with quoting off.
    with path.open(encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if row and any(cell.strip() for cell in row):
                yield line_no, row


def read_news(path: str | Path) -> dict[str, News]:
    """Read news.tsv into {news_id: News}. A later duplicate id replaces an earlier one."""
    path = resolve_mind_file(path, "news.tsv")
    news: dict[str, News] = {}
    for line_no, row in _rows(path):
        if len(row) < 4:
            raise MindFormatError(
                f"{path}:{line_no}: expected {NEWS_COLUMNS} tab-separated columns "
                f"(id, category, subcategory, title, abstract, ...), found {len(row)}"
            )
        row = row + [""] * (NEWS_COLUMNS - len(row))
        news_id, category, subcategory, title, abstract, url = (c.strip() for c in row[:6])
        if not news_id:
            raise MindFormatError(f"{path}:{line_no}: the news id (column 1) is empty")
        if not title:
            raise MindFormatError(f"{path}:{line_no}: news {news_id} has an empty title (column 4)")
        news[news_id] = News(news_id, title, category, subcategory, abstract, url)
    return news


def write_news(path: str | Path, news: list[News] | dict[str, News]) -> Path:
    """Write news in MIND's 8-column layout (entities written as `[]`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    items = news.values() if isinstance(news, dict) else news
    with path.open("w", encoding="utf-8") as f:
        for n in items:
            cells = [n.news_id, n.category, n.subcategory, n.title, n.abstract, n.url, "[]", "[]"]
            f.write("\t".join(_clean(c) for c in cells) + "\n")
    return path


def _parse_candidate(token: str, where: str) -> tuple[str, int | None]:
    if "-" not in token:
        return token, None
    news_id, _, label = token.rpartition("-")
    if label not in ("0", "1") or not news_id:
        raise MindFormatError(f"{where}: candidate {token!r} should look like N123-1 or N123-0")
    return news_id, int(label)


def read_behaviors(path: str | Path) -> list[Impression]:
    """Read behaviors.tsv. Candidates without labels (test files) give `labels=None`."""
    path = resolve_mind_file(path, "behaviors.tsv")
    impressions = []
    for line_no, row in _rows(path):
        where = f"{path}:{line_no}"
        if len(row) != BEHAVIORS_COLUMNS:
            raise MindFormatError(
                f"{where}: expected {BEHAVIORS_COLUMNS} tab-separated columns "
                f"(impression id, user id, time, history, impressions), found {len(row)}"
            )
        imp_id, user_id, time, history, shown = (c.strip() for c in row)
        if not imp_id:
            raise MindFormatError(f"{where}: the impression id (column 1) is empty")
        if not shown:
            raise MindFormatError(f"{where}: impression {imp_id} lists no candidates (column 5)")
        try:
            parse_time(time)
        except ValueError as e:
            raise MindFormatError(f"{where}: {e}") from None
        parsed = [_parse_candidate(t, where) for t in shown.split()]
        has_label = [label is not None for _, label in parsed]
        if any(has_label) and not all(has_label):
            raise MindFormatError(f"{where}: some candidates have a -0/-1 label and some do not")
        labels = [label for _, label in parsed if label is not None] if all(has_label) else None
        impressions.append(
            Impression(
                impression_id=imp_id,
                # MIND's train/dev samples here have no user id: each impression is its own user.
                user_id=user_id or f"imp-{imp_id}",
                time=time,
                history=history.split(),
                candidates=[c for c, _ in parsed],
                labels=labels,
            )
        )
    return impressions


def read_all_behaviors(paths: Sequence[str | Path]) -> list[Impression]:
    """The impressions of several behaviors files (or folders), in order."""
    return [imp for p in paths for imp in read_behaviors(p)]


def write_behaviors(path: str | Path, impressions: list[Impression]) -> Path:
    """Write impressions in MIND's behaviors.tsv layout."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for imp in impressions:
            if imp.labels is None:
                shown = " ".join(imp.candidates)
            else:
                shown = " ".join(f"{c}-{y}" for c, y in zip(imp.candidates, imp.labels))
            user = "" if imp.user_id == f"imp-{imp.impression_id}" else imp.user_id
            f.write("\t".join([imp.impression_id, user, imp.time, " ".join(imp.history), shown]) + "\n")
    return path


def drop_missing_news(
    impressions: list[Impression], news: dict[str, News], require_click: bool
) -> tuple[list[Impression], MissingNewsReport]:
    """Apply the missing-news rule: ids absent from news.tsv are dropped.

    History ids without text carry no signal and are removed. Candidates without text are
    removed too; an impression then left with no candidate (or, when `require_click`, no click)
    is skipped. Prediction does not use this: there every listed candidate keeps a rank.
    """
    report = MissingNewsReport()
    kept = []
    for imp in impressions:
        history = [h for h in imp.history if h in news]
        report.history_dropped += len(imp.history) - len(history)
        keep = [i for i, c in enumerate(imp.candidates) if c in news]
        missing = [c for c in imp.candidates if c not in news] + [h for h in imp.history if h not in news]
        report.examples.extend(m for m in missing[:2] if len(report.examples) < 10)
        report.candidates_dropped += len(imp.candidates) - len(keep)
        labels = None if imp.labels is None else [imp.labels[i] for i in keep]
        if not keep or (require_click and (labels is None or 1 not in labels)):
            report.impressions_dropped += 1
            continue
        kept.append(
            Impression(imp.impression_id, imp.user_id, imp.time, history, [imp.candidates[i] for i in keep], labels)
        )
    if report.any:
        logger.warning(report.summary())
    return kept, report


def news_used_by(impressions: list[Impression], news: dict[str, News]) -> dict[str, News]:
    """The news items these impressions show or hold in a history, in order of first use.

    The order lets a long job over them (LLM enrichment) stop early and still cover whole
    impressions.
    """
    used = dict.fromkeys(i for imp in impressions for i in (*imp.history, *imp.candidates))
    return {i: news[i] for i in used if i in news}


def _clean(cell: str) -> str:
    return cell.replace("\t", " ").replace("\n", " ")
