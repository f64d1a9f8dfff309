"""Readers and writers for MIND's `news.tsv` and `behaviors.tsv`.

MIND layout (https://msnews.github.io):

- news.tsv: id, category, subcategory, title, abstract, url, title entities, abstract entities
- behaviors.tsv: impression id, user id, time, history (space-separated news ids, oldest
  first), impressions (`N123-1` clicked, `N456-0` shown and not clicked; the label may be
  absent in a test file)

MIND's news carry no publication time. Datasets that have one (EB-NeRD, Adressa, a site's
logs) keep it beside news.tsv in `published.tsv` (news id, ISO 8601 time; news without one are
left out), so news.tsv stays MIND's 8 columns and `read_news` gives each item its time.

A path may name the file itself or a split folder holding `news.tsv` / `behaviors.tsv`.
Malformed lines raise :class:`MindFormatError` naming the file, the line and the fault.
behaviors.tsv is read into arrays by `behaviors.py` (`Behaviors`, `read_behaviors`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

__all__ = [
    "News",
    "Impression",
    "MindFormatError",
    "parse_time",
    "epoch_seconds",
    "MIND_TIME",
    "NEWS_COLUMNS",
    "PUBLISHED_FILE",
    "BEHAVIORS_COLUMNS",
    "resolve_mind_file",
    "read_news",
    "write_news",
    "write_behaviors",
    "behaviors_line",
]

MIND_TIME = "%m/%d/%Y %I:%M:%S %p"
NEWS_COLUMNS = 8
PUBLISHED_FILE = "published.tsv"  # beside news.tsv: news id, publication time (ISO 8601)
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
    published_at: datetime | None = None  # when the publisher released it (posted news; MIND's files have none)


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


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the epoch; a moment without a zone is UTC (as MIND's files and the store write them)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def parse_time(text: str) -> float | None:
    """MIND's `11/13/2019 8:36:57 AM` (taken as UTC) or ISO 8601 -> epoch seconds; "" -> None."""
    if not text:
        return None
    for parse in (lambda t: datetime.strptime(t, MIND_TIME), datetime.fromisoformat):
        try:
            moment = parse(text)
        except ValueError:
            continue
        return epoch_seconds(moment)
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
        if _is_behaviors_row(row):
            raise MindFormatError(
                f"{path}:{line_no}: this looks like a behaviors file (impression id, user, time, history, "
                "impressions), not news: give news.tsv as --news"
            )
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
    published = path.parent / PUBLISHED_FILE
    return _with_publication_times(news, published) if published.is_file() else news


def _with_publication_times(news: dict[str, News], path: Path) -> dict[str, News]:
    """`news` with the times of `path` (news id, ISO 8601); ids news.tsv lacks are skipped."""
    for line_no, row in _rows(path):
        if len(row) != 2:
            raise MindFormatError(f"{path}:{line_no}: expected 2 columns (news id, time), found {len(row)}")
        news_id, text = row[0].strip(), row[1].strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise MindFormatError(f"{path}:{line_no}: time {text!r} is not ISO 8601 (2019-11-13T08:36:57)") from None
        if news_id in news:
            news[news_id] = replace(news[news_id], published_at=moment)
    return news


def _is_behaviors_row(row: list[str]) -> bool:
    """A behaviors.tsv line (read as news it would pass: ids as categories, history as title):
    five columns, the third a time like `11/15/2019 8:55:22 AM`."""
    if len(row) != BEHAVIORS_COLUMNS or not row[2].strip():
        return False
    try:
        parse_time(row[2].strip())
    except ValueError:
        return False
    return True


def write_news(path: str | Path, news: list[News] | dict[str, News]) -> Path:
    """Write news in MIND's 8-column layout (entities written as `[]`), and the publication
    times, where items have them, into published.tsv beside it (an older one is removed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    items = list(news.values() if isinstance(news, dict) else news)
    with path.open("w", encoding="utf-8") as f:
        for n in items:
            cells = [n.news_id, n.category, n.subcategory, n.title, n.abstract, n.url, "[]", "[]"]
            f.write("\t".join(_clean(c) for c in cells) + "\n")
    published = path.parent / PUBLISHED_FILE
    timed = [f"{_clean(n.news_id)}\t{n.published_at.isoformat()}\n" for n in items if n.published_at is not None]
    if timed:
        published.write_text("".join(timed), encoding="utf-8")
    else:
        published.unlink(missing_ok=True)
    return path


def write_behaviors(path: str | Path, impressions: Iterable[Impression]) -> Path:
    """Write impressions in MIND's behaviors.tsv layout, as they come (an iterator is written as it is read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for imp in impressions:
            f.write(behaviors_line(imp))
    return path


def behaviors_line(imp: Impression) -> str:
    """One impression as a line of behaviors.tsv (with its newline)."""
    if imp.labels is None:
        shown = " ".join(imp.candidates)
    else:
        shown = " ".join(f"{c}-{y}" for c, y in zip(imp.candidates, imp.labels))
    user = "" if imp.user_id == f"imp-{imp.impression_id}" else imp.user_id
    return "\t".join([imp.impression_id, user, imp.time, " ".join(imp.history), shown]) + "\n"


def _clean(cell: str) -> str:
    return cell.replace("\t", " ").replace("\n", " ")
