"""The text a news item is encoded from."""

from __future__ import annotations

from collections.abc import Sequence

from newsrec.data.mind import News

__all__ = ["NEWS_FIELDS", "news_text"]

NEWS_FIELDS = ("title", "category", "subcategory", "abstract", "summary", "keywords")


def news_text(news: News, fields: Sequence[str] = ("title", "abstract")) -> str:
    """Join the chosen fields, in the order given, into one passage.

    Example: ``news_text(n, ["category", "title"])`` gives ``"sports. Lakers win the opener"``.
    Empty fields are skipped; the title goes first by default since long texts are truncated.
    """
    unknown = [f for f in fields if f not in NEWS_FIELDS]
    if unknown:
        raise ValueError(f"unknown news field(s) {unknown}: choose from {list(NEWS_FIELDS)}")
    parts = [getattr(news, f).strip() for f in fields]
    return ". ".join(p.rstrip(".") for p in parts if p)
