"""A site's own logs in a plain documented schema (CSV or JSON Lines), in MIND's file format.

Two files in one folder, each `.csv` (a header row) or `.jsonl` (one object a line):

- `news`: `news_id`, `title` (required); `category`, `subcategory`, `abstract`, `url`,
  `published_at` (ISO 8601) where the site has them.
- `impressions`, in time order: `impression_id`, `user_id`, `time` (ISO 8601), `shown` (the
  news ids listed, in order, space-separated) and `clicked` (those of them the user clicked,
  space-separated; empty for none).

`import_site_logs` writes `news.tsv`, `train/behaviors.tsv` and `dev/behaviors.tsv` (the
latest `dev_share` of the impressions, by position). Each impression's history is the user's
clicks in the impressions before it (the newest `history_limit`), as MIND's are: so the file
must be in time order, and one that goes back in time is refused. Read a row at a time (the
impressions twice: once to count them for the dev share, once to write them); memory holds the
news ids and each user's last clicks.
"""

from __future__ import annotations

import csv
import math
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from newsrec.data.imported import DatasetFormatError, Imported, json_objects
from newsrec.data.mind import MIND_TIME, Impression, News, behaviors_line, epoch_seconds, write_news

__all__ = ["import_site_logs", "NEWS_COLUMNS", "IMPRESSION_COLUMNS"]

NEWS_COLUMNS = ("news_id", "title")  # required; category, subcategory, abstract, url, published_at optional
IMPRESSION_COLUMNS = ("impression_id", "user_id", "time", "shown", "clicked")


def import_site_logs(folder: str | Path, out: str | Path, history_limit: int = 50, dev_share: float = 0.1) -> Imported:
    """Write the site logs in `folder` as MIND files under `out` (see the module docstring)."""
    folder, out = Path(folder), Path(out)
    result = Imported(out)
    news_path, impressions_path = _find(folder, "news"), _find(folder, "impressions")
    items = [_news(row, news_path, line) for line, row in _rows(news_path, NEWS_COLUMNS)]
    write_news(out / "news.tsv", items)
    result.news = len(items)
    known = {n.news_id for n in items}
    total = sum(1 for _ in _rows(impressions_path, IMPRESSION_COLUMNS))
    first_dev = total - int(dev_share * total) if total > 1 else total
    clicks: dict[str, deque[str]] = {}
    last_time = -math.inf
    with ExitStack() as files:
        writers: dict[str, TextIO] = {}
        for position, (line, row) in enumerate(_rows(impressions_path, IMPRESSION_COLUMNS)):
            time = _time(row["time"], impressions_path, line)
            if epoch_seconds(time) < last_time:
                raise DatasetFormatError(
                    f"{impressions_path}:{line}: time {row['time']} is before the row above: "
                    "sort the impressions by time (histories are the clicks before each one)"
                )
            last_time = epoch_seconds(time)
            impression = _impression(row, time, clicks, known, history_limit, result)
            if impression is None:
                continue
            split = "dev" if position >= first_dev else "train"
            if split not in writers:
                (out / split).mkdir(parents=True, exist_ok=True)
                writers[split] = files.enter_context(open(out / split / "behaviors.tsv", "w", encoding="utf-8"))
            writers[split].write(behaviors_line(impression))
            result.impressions[split] = result.impressions.get(split, 0) + 1
    return result


def _find(folder: Path, name: str) -> Path:
    for suffix in (".csv", ".jsonl"):
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    raise DatasetFormatError(
        f"{folder} has no {name}.csv or {name}.jsonl: see the schema in `newsrec data import --help`"
    )


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file with a header or a JSON Lines file; required columns checked."""
    with path.open(encoding="utf-8", newline="") as f:
        if path.suffix == ".csv":
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetFormatError(f"{path}: the header lacks the column(s) {', '.join(missing)}")
            for row in reader:
                yield reader.line_num, {k: v or "" for k, v in row.items() if k is not None}
            return
        for line, row in json_objects(f, path):
            missing = [c for c in required if c not in row]
            if missing:
                raise DatasetFormatError(f"{path}:{line}: lacks {', '.join(missing)}")
            yield line, {k: "" if v is None else str(v) for k, v in row.items()}


def _news(row: dict[str, str], path: Path, line: int) -> News:
    news_id, title = row["news_id"].strip(), row["title"].strip()
    if not news_id or not title:
        raise DatasetFormatError(f"{path}:{line}: news_id and title must not be empty")
    published = _time(row["published_at"], path, line) if row.get("published_at") else None
    return News(
        news_id, title, row.get("category", "").strip(), row.get("subcategory", "").strip(),
        row.get("abstract", "").strip(), row.get("url", "").strip(), published_at=published,
    )  # fmt: skip


def _time(text: str, path: Path, line: int) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise DatasetFormatError(f"{path}:{line}: time {text!r} is not ISO 8601 (2024-05-18T07:30:00)") from None


def _mind_time(moment: datetime) -> str:
    """MIND's time text, in UTC (a time without a zone is taken as UTC)."""
    return datetime.fromtimestamp(epoch_seconds(moment), timezone.utc).strftime(MIND_TIME)


def _impression(
    row: dict[str, str], time: datetime, clicks: dict[str, deque[str]], known: set[str], limit: int, result: Imported
) -> Impression | None:
    """The row as an impression with the user's earlier clicks as history; its clicks then join them."""
    clicked = set(row["clicked"].split())
    candidates, labels = result.candidates(row["shown"].split(), clicked, known)
    user = row["user_id"].strip()
    history = clicks.setdefault(user, deque(maxlen=limit))
    impression = Impression(
        row["impression_id"].strip(), user, _mind_time(time), list(history), candidates, labels
    )  # fmt: skip
    history.extend(n for n in candidates if n in clicked)
    return impression if candidates else None
