"""News enrichment: a one-sentence summary and 3-5 keywords per news item (GENRE-style).

Output is JSON, validated; bad output is retried, then replaced by a fallback built from the
title (marked `from_llm=False`). Valid means grounded too: the summary and every keyword may
state only what the title, abstract and category hold (`grounding.Sources`; a summary may add
the words that talk about an article, "reports", "describes"), and every name and number of the
summary must be the item's own, as a whole word (`claims.claim_problems`); a summary that only
repeats the title is no summary. Results are cached by model +
prompt version + text, so a rerun or a resumed batch redoes nothing already finished. Chinese
news is summarised in Chinese, in its own script, by a model that writes Chinese (`backends.llm_for`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from newsrec.data.categories import tag_name
from newsrec.data.enrichment import read_enrichment_rows
from newsrec.data.language import fold, words
from newsrec.data.mind import News
from newsrec.llm.backends import AnyLLM, llm_for, model_id_for
from newsrec.llm.cache import LLMCache
from newsrec.llm.claims import claim_problems
from newsrec.llm.grounding import Sources, vocabulary
from newsrec.llm.structured import distinct_phrases, generate_structured
from newsrec.llm.writing import Writing, count_words, letters_only
from newsrec.models.reason import content_words
from newsrec.progress import progress as counted

__all__ = [
    "Enrichment",
    "enrich_news",
    "enrich_one",
    "enrich_key",
    "cached_enrichment",
    "fallback_enrichment",
    "read_enrichments",
    "write_enrichments",
    "PROMPT_VERSION",
]

PROMPT_VERSION = "enrich-v2"
SYSTEM = {"en": "You summarise news articles as JSON.", "zh": "你用 JSON 总结新闻文章，用中文写。"}
PROMPT = {
    "en": (
        "Title: {title}\nCategory: {category}\nAbstract: {abstract}\n\n"
        'Write a JSON object with "summary" (one sentence about the article) and '
        '"keywords" (3 to 5 different keywords).'
    ),
    "zh": (
        "标题：{title}\n类别：{category}\n摘要：{abstract}\n\n"
        '请写一个 JSON 对象，包含 "summary"（用一句中文概括这篇文章）和 "keywords"（3 到 5 个不同的中文关键词）。'
    ),
}
# the words a summary may use beyond its sources: they talk about the article, not the news
FRAMING = {
    "en": vocabulary("""article articles news story report reports reported reporting describe describes discuss
    discusses cover covers covering explain explains look looks detail details piece focus focuses highlight
    highlights say says said according update latest"""),
    "zh": vocabulary("文章 新闻 报道 介绍 讲述 描述 内容 关于 提到 指出 表示 相关 最新 消息"),
}
UNKNOWN_CATEGORY = {"en": "unknown", "zh": "未知"}
NEWS_WORD = {"en": "news", "zh": "新闻"}
# a short title is prefixed to reach the summary's 8 characters (the Chinese prefix alone has 9)
SHORT_TITLE = {"en": "News: {title}", "zh": "这则新闻的标题是：{title}"}
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
        if count_words(v) > 45:
            raise ValueError("summary must be one sentence of at most about 30 words")
        return v

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> Enrichment:
        """With the item's sources in the context (an LLM's reply): nothing they do not hold."""
        sources = (info.context or {}).get("sources")
        if sources is not None:
            if letters_only(self.summary) == letters_only(sources.texts[0]):  # the title comes first
                raise ValueError("the summary repeats the title: say what the article reports")
            sources.require(self.summary, "summary")
            if problems := claim_problems(self.summary, [" ".join(sources.texts)]):
                raise ValueError(
                    f"the summary says what the article does not ({problems[0]}): use its names and numbers"
                )
            for keyword in self.keywords:
                sources.require(keyword, "keyword", framing=False)
        return self


def _writing(news: News) -> Writing:
    return Writing.of(news.title, news.abstract)


def fallback_enrichment(news: News) -> Enrichment:
    """Title as summary; keywords from the title's content words, then category (distinct, ignoring
    case and Chinese script), in the title's language."""
    writing = _writing(news)
    if writing.language == "zh":  # the title's own words, in order, that the explanations' rule calls content
        topical = content_words(news.title)
        title_words = [w for w in words(news.title) if fold(w) in topical]
    else:
        title_words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]+", news.title) if w.lower() not in STOPWORDS]
    news_word = writing.fit(NEWS_WORD[writing.language])
    subcategory, category = _tag(news.subcategory, writing), _tag(news.category, writing)
    keywords: list[str] = []
    for word in [w for w, _ in Counter(title_words).most_common()] + [subcategory, category, news_word]:
        if word and fold(word) not in {fold(k) for k in keywords}:
            keywords.append(word)
    while len(keywords) < 3:
        keywords.append(f"{category or news_word} {len(keywords)}")
    summary = (
        news.title if len(news.title) >= 8 else writing.fit(SHORT_TITLE[writing.language].format(title=news.title))
    )
    return Enrichment(summary=summary, keywords=keywords[:5], from_llm=False)


def _tag(tag: str, writing: Writing) -> str:
    """A MIND tag as Chinese text names it (in the item's script; "" where Chinese has no name),
    English text as it is."""
    if writing.language != "zh" or not tag:
        return tag
    return writing.fit(tag_name(tag, "zh") or "")


def _request(llm: AnyLLM, news: News) -> tuple[Writing, str, str, Sources]:
    """The item's writing, its prompt, its cache key and what its enrichment may draw on."""
    writing = _writing(news)
    category = _tag(news.category, writing) or UNKNOWN_CATEGORY[writing.language]
    abstract = news.abstract[:600]
    prompt = PROMPT[writing.language].format(title=news.title, category=category, abstract=abstract or "-")
    key = LLMCache.key("enrich", model_id_for(llm, "enrich", writing.language), PROMPT_VERSION, prompt)
    tags = (category, _tag(news.subcategory, writing), news.category, news.subcategory)
    return writing, prompt, key, Sources((news.title, abstract, *tags), FRAMING[writing.language])


def enrich_one(llm: AnyLLM, news: News, cache: LLMCache | None = None) -> Enrichment:
    writing, prompt, key, sources = _request(llm, news)

    def make() -> dict:
        model, system = llm_for(llm, "enrich", writing.language), SYSTEM[writing.language]
        fallback = lambda: fallback_enrichment(news)  # noqa: E731
        value, _ = generate_structured(
            model, system, prompt, Enrichment, fallback, writing, context={"sources": sources}
        )
        return value.model_dump()

    return Enrichment(**LLMCache.through(cache, key, make))


def enrich_key(llm: AnyLLM, news: News) -> str:
    """The cache key of `news`'s enrichment (what a rerun finds done), without loading a model."""
    return _request(llm, news)[2]


def cached_enrichment(llm: AnyLLM, news: News, cache: LLMCache) -> Enrichment | None:
    """The enrichment an earlier (maybe stopped) run stored for this item, or None; loads no model."""
    hit = cache.get(enrich_key(llm, news))
    return Enrichment(**hit) if hit else None


def enrich_news(
    llm: AnyLLM, news: list[News], cache: LLMCache | None = None, progress: bool = True
) -> dict[str, Enrichment]:
    """Enrich every item; finished items come from the cache, so a stopped batch resumes."""
    return {n.news_id: enrich_one(llm, n, cache) for n in counted(news, "enriching", "news", enabled=progress)}


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
