"""News enrichment: a one-sentence summary and 3-5 keywords per news item (GENRE-style).

Output is JSON, validated; bad output is retried, then replaced by a fallback built from the
title (marked `from_llm=False`). Results are cached by model + prompt version + text, so a
rerun or a resumed batch redoes nothing already finished.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator
from tqdm.auto import tqdm

from newsrec.data.enrichment import read_enrichment_rows
from newsrec.data.mind import News
from newsrec.llm.backends import LLM
from newsrec.llm.cache import LLMCache
from newsrec.llm.structured import distinct_phrases, generate_structured

__all__ = [
    "Enrichment",
    "enrich_news",
    "fallback_enrichment",
    "read_enrichments",
    "write_enrichments",
    "PROMPT_VERSION",
]

PROMPT_VERSION = "enrich-v1"
SYSTEM = "You summarise news articles as JSON."
PROMPT = (
    "Title: {title}\nCategory: {category}\nAbstract: {abstract}\n\n"
    'Write a JSON object with "summary" (one sentence about the article) and "keywords" (3 to 5 different keywords).'
)
STOPWORDS = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "this",
        "that",
        "it",
        "its",
        "after",
        "over",
        "new",
    ]
)


class Enrichment(BaseModel):
    summary: str = Field(min_length=8, max_length=300)
    keywords: list[Annotated[str, StringConstraints(max_length=40)]] = Field(min_length=3, max_length=5)
    from_llm: bool = True

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, v: list[str]) -> list[str]:
        return distinct_phrases(v, at_least=3, max_words=4)

    @field_validator("summary")
    @classmethod
    def _one_sentence(cls, v: str) -> str:
        v = " ".join(v.split())
        if len(v.split()) > 45:
            raise ValueError("summary must be one sentence of at most about 30 words")
        return v


def fallback_enrichment(news: News) -> Enrichment:
    """Title as summary; keywords from the title's content words, then category (distinct, ignoring case)."""
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", news.title) if w.lower() not in STOPWORDS]
    keywords: list[str] = []
    for word in [w for w, _ in Counter(words).most_common()] + [news.subcategory, news.category, "news"]:
        if word and word.lower() not in {k.lower() for k in keywords}:
            keywords.append(word)
    while len(keywords) < 3:
        keywords.append(f"{news.category or 'news'} {len(keywords)}")
    return Enrichment(
        summary=news.title if len(news.title) >= 8 else f"News: {news.title}", keywords=keywords[:5], from_llm=False
    )


def _prompt(news: News) -> str:
    return PROMPT.format(title=news.title, category=news.category or "unknown", abstract=news.abstract[:600] or "-")


def enrich_one(llm: LLM, news: News, cache: LLMCache | None = None) -> Enrichment:
    text = _prompt(news)

    def make() -> dict:
        return generate_structured(llm, SYSTEM, text, Enrichment, lambda: fallback_enrichment(news))[0].model_dump()

    return Enrichment(**LLMCache.through(cache, LLMCache.key("enrich", llm.model_id, PROMPT_VERSION, text), make))


def cached_enrichment(model_id: str, news: News, cache: LLMCache) -> Enrichment | None:
    """The enrichment an earlier (maybe stopped) run stored for this item, or None."""
    hit = cache.get(LLMCache.key("enrich", model_id, PROMPT_VERSION, _prompt(news)))
    return Enrichment(**hit) if hit else None


def enrich_news(
    llm: LLM, news: list[News], cache: LLMCache | None = None, progress: bool = True
) -> dict[str, Enrichment]:
    """Enrich every item; finished items come from the cache, so a stopped batch resumes."""
    return {
        n.news_id: enrich_one(llm, n, cache)
        for n in tqdm(news, desc=f"enriching with {llm.model_id}", unit="news", disable=None if progress else True)
    }


def write_enrichments(path: str | Path, enrichments: dict[str, Enrichment]) -> Path:
    """JSON lines: {"news_id", "summary", "keywords", "from_llm"}."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for news_id, e in enrichments.items():
            f.write(json.dumps({"news_id": news_id, **e.model_dump()}) + "\n")
    return path


def read_enrichments(path: str | Path) -> dict[str, Enrichment]:
    """The file `write_enrichments` wrote, each line checked again as an `Enrichment`."""
    rows = read_enrichment_rows(path)
    try:
        return {news_id: Enrichment(**row) for news_id, row in rows.items()}
    except ValueError as e:
        raise ValueError(f"{path}: not an enrichment file ({e})") from None
