"""EB-NeRD (Ekstra Bladet, the RecSys Challenge 2024 dataset) in MIND's file format.

EB-NeRD comes as parquet files (https://recsys.eb.dk):

    <root>/articles.parquet                      article_id, title, subtitle, category_str, published_time, ...
    <root>/train/behaviors.parquet               one row per impression: impression_id, user_id,
    <root>/train/history.parquet                 impression_time, article_ids_inview, article_ids_clicked
    <root>/validation/{behaviors,history}.parquet   (history: one row per user, the 21 days
    <root>/test/{behaviors,history}.parquet          before the split's week, article_id_fixed)

`import_ebnerd` writes them once as `news.tsv` (each article's `published_time` in
`published.tsv` beside it, for the freshness feature), `train/behaviors.tsv`, `dev/behaviors.tsv`
(from `validation/`) and `test/behaviors.tsv` (no clicks in it), so `newsrec train`,
`evaluate` and `predict` read them like MIND. Each impression's history is the user's row of
its split's history file (EB-NeRD's protocol: what they read in the 21 days before the
impression week), the newest `history_limit` articles; its candidates are the articles in
view, a clicked one labelled 1. A folder holding `behaviors.parquet` and `history.parquet`
itself is read as one split (articles.parquet in it or its parent).

Behaviors are read a record batch at a time; histories are kept per user as one string each
(the split's users, not its impressions, bound the memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from newsrec.data.imported import DatasetFormatError, Imported
from newsrec.data.mind import MIND_TIME, Impression, News, write_behaviors, write_news

__all__ = ["import_ebnerd", "SPLITS"]

SPLITS = {"train": "train", "validation": "dev", "test": "test"}  # EB-NeRD's folder -> ours
REQUIRED = {
    "articles": ("article_id", "title"),
    "behaviors": ("impression_id", "user_id", "impression_time", "article_ids_inview"),
    "history": ("user_id", "article_id_fixed"),
}
ARTICLE_EXTRAS = ("subtitle", "category_str", "subcategory", "url", "published_time")
ROWS_PER_BATCH = 10_000


def import_ebnerd(root: str | Path, out: str | Path, history_limit: int = 50) -> Imported:
    """Write the EB-NeRD folder `root` as MIND files under `out` (see the module docstring)."""
    root, out = Path(root), Path(out)
    splits = _splits(root)
    articles = _file(root, "articles") if (root / "articles.parquet").is_file() else _file(root.parent, "articles")
    result = Imported(out)
    known = _write_news(articles, out / "news.tsv", result)
    for ours, folder in splits.items():
        histories = _histories(_file(folder, "history"), known, history_limit, result)
        result.impressions[ours] = 0
        write_behaviors(
            out / ours / "behaviors.tsv", _impressions(_file(folder, "behaviors"), histories, known, ours, result)
        )
    return result


def _splits(root: Path) -> dict[str, Path]:
    """Our split name -> the folder holding its behaviors and history files."""
    found = {ours: root / theirs for theirs, ours in SPLITS.items() if (root / theirs / "behaviors.parquet").is_file()}
    if not found and (root / "behaviors.parquet").is_file():
        found = {"train": root}
    if not found:
        raise DatasetFormatError(
            f"{root} holds no EB-NeRD split: expected train/behaviors.parquet (and validation/, test/) "
            "or behaviors.parquet with history.parquet beside it, as downloaded from https://recsys.eb.dk"
        )
    return found


def _file(folder: Path, name: str) -> pq.ParquetFile:
    path = folder / f"{name}.parquet"
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing: an EB-NeRD split has behaviors.parquet and history.parquet, "
                                 "and the dataset articles.parquet")  # fmt: skip
    try:
        parquet = pq.ParquetFile(path)
    except Exception as e:  # pyarrow's errors for a file that is not parquet vary by cause
        raise DatasetFormatError(f"{path} is not a readable parquet file ({type(e).__name__}: {e})") from None
    missing = [c for c in REQUIRED[name] if c not in parquet.schema_arrow.names]
    if missing:
        raise DatasetFormatError(f"{path} lacks the column(s) {', '.join(missing)} of EB-NeRD's {name} file")
    return parquet


def _batches(parquet: pq.ParquetFile, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterator[dict]:
    """The file's columns a record batch at a time; an optional column the file lacks reads as None."""
    present = [c for c in (*columns, *optional) if c in parquet.schema_arrow.names]
    for batch in parquet.iter_batches(batch_size=ROWS_PER_BATCH, columns=present):
        rows = batch.to_pydict()
        yield {**{c: [None] * batch.num_rows for c in optional if c not in rows}, **rows}


def _write_news(parquet: pq.ParquetFile, path: Path, result: Imported) -> set[str]:
    known: set[str] = set()
    items: list[News] = []
    for batch in _batches(parquet, REQUIRED["articles"], ARTICLE_EXTRAS):
        columns = zip(
            batch["article_id"],
            batch["title"],
            batch["subtitle"],
            batch["category_str"],
            batch["subcategory"],
            batch["url"],
            batch["published_time"],
        )
        for article_id, title, subtitle, category, subcategories, url, published in columns:
            if not (title or "").strip():
                continue  # an article without a title cannot be encoded: impressions naming it leave it out
            first_subcategory = str(subcategories[0]) if subcategories else ""
            items.append(
                News(
                    str(article_id),
                    title.strip(),
                    (category or "").strip(),
                    first_subcategory,
                    (subtitle or "").strip(),
                    url or "",
                    published_at=published,
                )
            )
            known.add(str(article_id))
    write_news(path, items)
    result.news = len(items)
    return known


def _histories(parquet: pq.ParquetFile, known: set[str], limit: int, result: Imported) -> dict[str, str]:
    """user id -> the newest `limit` known articles of their history row, oldest first, space-separated."""
    histories = {}
    for batch in _batches(parquet, REQUIRED["history"]):
        for user_id, articles in zip(batch["user_id"], batch["article_id_fixed"], strict=True):
            ids = [str(a) for a in articles or []]
            kept = [a for a in ids if a in known]
            result.unknown_news += len(ids) - len(kept)
            histories[str(user_id)] = " ".join(kept[-limit:])
    return histories


def _impressions(
    parquet: pq.ParquetFile, histories: dict[str, str], known: set[str], split: str, result: Imported
) -> Iterator[Impression]:
    """The split's impressions, counted into `result.impressions[split]` as they are written."""
    labelled = "article_ids_clicked" in parquet.schema_arrow.names  # the test split has no clicks
    for batch in _batches(parquet, REQUIRED["behaviors"], ("article_ids_clicked",)):
        for i, impression_id in enumerate(batch["impression_id"]):
            inview = [str(a) for a in batch["article_ids_inview"][i] or []]
            clicked = {str(a) for a in (batch["article_ids_clicked"][i] or [])} if labelled else None
            candidates, labels = result.candidates(inview, clicked, known)
            if not candidates:
                continue
            user = str(batch["user_id"][i])
            history = histories.get(user, "")
            time = batch["impression_time"][i]
            result.impressions[split] += 1
            yield Impression(
                str(impression_id), user, time.strftime(MIND_TIME) if time else "",
                history.split() if history else [], candidates, labels,
            )  # fmt: skip
