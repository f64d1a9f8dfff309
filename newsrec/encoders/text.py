"""The text a news item is encoded from, with optional stop-word removal and stemming, and the
Chinese script every encoded text (news and users' own words) is written in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

from newsrec.data.language import STOP_WORDS_ZH, ChineseScript, english_stem, in_script, is_chinese, join_words
from newsrec.data.language import words as words_of
from newsrec.data.mind import News

__all__ = ["NewsField", "NEWS_FIELDS", "news_text", "NewsText"]

NewsField = Literal["title", "category", "subcategory", "abstract", "summary", "keywords"]
NEWS_FIELDS: tuple[str, ...] = get_args(NewsField)
_WORD = re.compile(r"\w+|[^\w\s]")


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


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # the common 318-word English list

    return frozenset(ENGLISH_STOP_WORDS)


@dataclass(frozen=True)
class NewsText:
    """Builds a news item's encoder text: fields joined, then optional classic preprocessing.

    Both options are off by default: a PLM was pretrained on natural sentences, and stemmed,
    stop-word-free text reads to it as broken English. Chinese text is segmented into words
    (jieba) for stop-word removal and joined back without spaces; stemming leaves it alone.

    `script` rewrites the Chinese of every text the encoder reads, news and user texts alike
    (`as_read`), so a Simplified query meets Traditional news in one script. The embedding
    cache keys vectors by the exact text encoded, so converted texts never share a vector
    with the text as written.
    """

    fields: tuple[str, ...] = ("title", "abstract")
    remove_stopwords: bool = False
    stem: bool = False
    script: ChineseScript = "keep"

    def __call__(self, news: News) -> str:
        text = self.as_read(news_text(news, self.fields))
        if not (self.remove_stopwords or self.stem):
            return text
        words = words_of(text) if is_chinese(text) else _WORD.findall(text)
        if self.remove_stopwords:
            words = [w for w in words if w.lower() not in _stop_words() and w not in STOP_WORDS_ZH]
        if self.stem:
            words = [english_stem(w) for w in words]
        return join_words(words, text)

    def as_read(self, text: str) -> str:
        """A text as this model's encoder reads it (news or a user's own words): in `script`."""
        return in_script(text, self.script)
