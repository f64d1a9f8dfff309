"""Adressa (Adresseavisen's SmartMedia logs, Norwegian: http://reclab.idi.ntnu.no/dataset/) in MIND's file format.

Adressa ships one folder of daily event files (`one_week/20170101` ... `20170107`; the
three-month set likewise), each JSON Lines: one page view a line, with `eventId`, `userId`,
`time` (unix seconds), `url`, `activeTime`, `sessionStart`, ... and, where the page is an
article, its `id` (a 40-hex hash; `documentId` is read where a copy names it so), `title`,
`category1` ("nyheter|trondheim"), `publishtime` ("2017-01-01T10:56:44.000Z"), `canonicalUrl`,
`keywords`, `author` and `profile`. Views without an article id or title (the front page,
section pages) are skipped.

Adressa logs clicks only, no impressions, so `import_adressa` builds them by the common
protocol (Efficient-FedRec's and MANNeR's loaders):
- each user's article views in time order (files in name order, each sorted by time); a view
  of an article the user read before is a re-read and skipped;
- each view becomes an impression: its history the user's earlier views (the newest
  `history_limit`), its candidates the viewed article (label 1) and `negatives` others
  (label 0) drawn with a fixed seed from the articles anyone read that day that were published
  by the view's time (first seen, where `publishtime` is absent) and that the user has not
  read yet, all in a seeded random order; a view with no such article is skipped;
- the last file (Adressa's last day) is written to dev/, the others to train/ (no test/).

news.tsv: the article id, `category1`'s first and last parts as category and subcategory, the
title, no abstract, the canonical url; `publishtime` goes to published.tsv (the freshness
feature). Files are read a line at a time; a day's article views are kept as integer arrays
(time, user, article) to sort them, so memory holds one day's views, each article's metadata
and each user's read set and history.
"""

from __future__ import annotations

import gzip
import random
import re
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

from newsrec.data.imported import DatasetFormatError, Imported, json_objects
from newsrec.data.mind import MIND_TIME, Impression, News, behaviors_line, write_news

__all__ = ["import_adressa", "AdressaImported", "REQUIRED"]

REQUIRED = ("userId", "time")  # every event; an article view also has `id` and `title`
DAY_FILE = re.compile(r"^\d{8}(\.jsonl?)?(\.gz)?$")  # 20170101, 20170101.json, 20170101.gz


@dataclass
class AdressaImported(Imported):
    """An Adressa import: what was written, and the views that gave no impression, by reason."""

    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


@dataclass
class _Reader:
    """One user: the name the file gives them, the articles they read (codes) and their newest ones."""

    user_id: str
    history: deque[str]
    read: set[int] = field(default_factory=set)


class _Catalogue:
    """Every article seen: its code (place of first sighting), metadata and when it was available."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.news: list[News] = []
        self.available: list[float] = []  # publication time, else first view (epoch seconds)

    def code(self, event: dict, moment: float, path: Path, line: int) -> int:
        article_id = str(event.get("id") or event.get("documentId"))
        code = self.codes.get(article_id)
        if code is None:
            code = self.codes[article_id] = len(self.news)
            parts = str(event.get("category1") or "").split("|")
            published = _published(event.get("publishtime"), path, line)
            self.news.append(
                News(
                    article_id, " ".join(str(event["title"]).split()), parts[0].strip(),
                    parts[-1].strip() if len(parts) > 1 else "", "",
                    str(event.get("canonicalUrl") or event.get("url") or ""), published_at=published,
                )
            )  # fmt: skip
            self.available.append(published.timestamp() if published else moment)
        return code


@dataclass
class _Day:
    """One file's article views as arrays: time (epoch seconds), user, article and impression id."""

    times: array = field(default_factory=lambda: array("d"))
    users: list[_Reader] = field(default_factory=list)
    articles: array = field(default_factory=lambda: array("l"))
    ids: list[str] = field(default_factory=list)


def import_adressa(
    folder: str | Path, out: str | Path, history_limit: int = 50, negatives: int = 4, seed: int = 42
) -> AdressaImported:
    """Write the Adressa folder `folder` as MIND files under `out` (see the module docstring)."""
    out = Path(out)
    files = _event_files(Path(folder))
    result = AdressaImported(out)
    catalogue, rng = _Catalogue(), random.Random(seed)
    readers: dict[str, _Reader] = {}
    with ExitStack() as opened:
        writers: dict[str, TextIO] = {}
        for index, path in enumerate(files):
            split = "dev" if index == len(files) - 1 and len(files) > 1 else "train"
            day = _read_day(path, catalogue, readers, history_limit, result)
            for impression in _impressions(day, catalogue, negatives, rng, result):
                if split not in writers:
                    (out / split).mkdir(parents=True, exist_ok=True)
                    writers[split] = opened.enter_context(open(out / split / "behaviors.tsv", "w", encoding="utf-8"))
                writers[split].write(behaviors_line(impression))
                result.impressions[split] = result.impressions.get(split, 0) + 1
    write_news(out / "news.tsv", catalogue.news)
    result.news = len(catalogue.news)
    return result


def _event_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise DatasetFormatError(f"{folder} does not exist: give Adressa's folder of daily event files (one_week/)")
    files = sorted(p for p in folder.iterdir() if p.is_file() and DAY_FILE.match(p.name))
    if not files:
        raise DatasetFormatError(
            f"{folder} holds no Adressa event files: expected one JSON Lines file a day named by its date "
            "(20170101, 20170102, ...), as in one_week/ from http://reclab.idi.ntnu.no/dataset/"
        )
    return files


def _events(path: Path) -> Iterator[tuple[int, dict, float]]:
    """(line number, event, its time) of one file, a line at a time; required fields checked."""
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8") as f:
        for line, event in json_objects(f, path):
            missing = [name for name in REQUIRED if event.get(name) in (None, "")]
            if missing:
                raise DatasetFormatError(f"{path}:{line}: lacks {', '.join(missing)}, which every Adressa event has")
            yield line, event, _seconds(event["time"], path, line)


def _read_day(
    path: Path, catalogue: _Catalogue, readers: dict[str, _Reader], history_limit: int, result: AdressaImported
) -> _Day:
    day = _Day()
    for line, event, moment in _events(path):
        if not (event.get("id") or event.get("documentId")) or not str(event.get("title") or "").strip():
            result.skip("views of no article (front page, sections)")
            continue
        user_id = str(event["userId"])
        reader = readers.get(user_id)
        if reader is None:
            reader = readers[user_id] = _Reader(user_id, deque(maxlen=history_limit))
        day.times.append(moment)
        day.users.append(reader)
        day.articles.append(catalogue.code(event, moment, path, line))
        day.ids.append(str(event.get("eventId") or f"{path.name}-{line}"))
    return day


def _impressions(
    day: _Day, catalogue: _Catalogue, negatives: int, rng: random.Random, result: AdressaImported
) -> Iterator[Impression]:
    """The day's views in time order as impressions (see the module docstring)."""
    if not day.ids:
        return
    pool = sorted(set(day.articles), key=catalogue.available.__getitem__)  # the day's articles, oldest first
    available = [catalogue.available[a] for a in pool]
    for i in np.argsort(np.frombuffer(day.times, dtype=np.float64), kind="stable").tolist():
        reader, article, moment = day.users[i], day.articles[i], day.times[i]
        if article in reader.read:
            result.skip("re-reads")
            continue
        others = _negatives(pool, bisect_right(available, moment), reader.read, article, negatives, rng)
        reader.read.add(article)
        history = list(reader.history)
        reader.history.append(catalogue.news[article].news_id)
        if not others:
            result.skip("views with no other article to show")
            continue
        shown = [article, *others]
        rng.shuffle(shown)
        yield Impression(
            day.ids[i], reader.user_id, datetime.fromtimestamp(moment, timezone.utc).strftime(MIND_TIME), history,
            [catalogue.news[a].news_id for a in shown], [int(a == article) for a in shown],
        )  # fmt: skip


def _negatives(pool: list[int], end: int, read: set[int], clicked: int, count: int, rng: random.Random) -> list[int]:
    """`count` distinct articles of `pool[:end]` neither `clicked` nor `read`, drawn with `rng`
    (all of them where fewer remain)."""
    chosen: list[int] = []
    if count <= 0 or end == 0:
        return chosen
    for _ in range(8 * count):  # draws: quick where most of the pool is unread
        candidate = pool[rng.randrange(end)]
        if candidate != clicked and candidate not in read and candidate not in chosen:
            chosen.append(candidate)
            if len(chosen) == count:
                return chosen
    rest = [a for a in pool[:end] if a != clicked and a not in read and a not in chosen]
    return chosen + rng.sample(rest, min(count - len(chosen), len(rest)))


def _seconds(value: object, path: Path, line: int) -> float:
    try:
        return float(value)  # type: ignore[arg-type]  # checked here: a number, or text of one
    except (TypeError, ValueError):
        raise DatasetFormatError(f"{path}:{line}: time {value!r} is not unix seconds (1483225203)") from None


def _published(value: object, path: Path, line: int) -> datetime | None:
    """`publishtime` ("2017-01-01T10:56:44.000Z") as a datetime in UTC; None where the event has none."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise DatasetFormatError(f"{path}:{line}: publishtime {value!r} is not ISO 8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
