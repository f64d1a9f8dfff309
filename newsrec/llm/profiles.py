"""User interest profiles in plain words, written by the LLM from what a user read and wrote.

The profile text can feed the user encoder: it is encoded by the PLM and fused with the
history vector (`Ranker.score(..., interest_texts=...)`). It is written in the language (and
Chinese script) of what the user read and wrote.

Grounded or counted: the topics are chosen from a list (the history's category names and the
content words of the titles and the reader's own words; a grammar holds a local model to it),
and the profile sentence may state only what the titles, their categories and the reader's
words hold (`grounding.Sources`), and must draw on the history when there is one. It may join
headlines only by topic: the names and numbers of each of its sentences must stand in one
headline (`claims.claim_problems`), never two stories' facts merged. A reply that
fails is retried with its unsupported words named, then replaced by the counted profile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from newsrec.data.categories import tag_name
from newsrec.data.mind import News
from newsrec.llm.backends import AnyLLM, llm_for, model_id_for
from newsrec.llm.cache import LLMCache
from newsrec.llm.claims import claim_problems
from newsrec.llm.grounding import Sources, claims, vocabulary
from newsrec.llm.structured import distinct_phrases, generate_structured, reply_schema
from newsrec.llm.writing import Writing

__all__ = ["UserProfile", "build_profile", "fallback_profile", "PROMPT_VERSION"]

PROMPT_VERSION = "profile-v3"
MAX_TITLES = 20
MAX_TOPIC_CHOICES = 60
SYSTEM = {"en": "You describe a news reader's interests as JSON.", "zh": "你用 JSON 描述一位新闻读者的兴趣，用中文写。"}
PROMPT = {
    "en": (
        "Recently read headlines:\n{titles}\n{texts}\n"
        'Write a JSON object with "profile" (one or two sentences on what this reader likes, '
        'using the words above) and "topics" (2 to 6 short interest topics).'
    ),
    "zh": (
        "最近阅读的新闻标题：\n{titles}\n{texts}\n"
        '请写一个 JSON 对象，包含 "profile"（用一两句中文、用上面的词语说明这位读者喜欢什么）和 '
        '"topics"（2 到 6 个简短的中文兴趣主题）。'
    ),
}
TITLE_LINE = {"en": "- {title} ({tag})", "zh": "- {title}（{tag}）"}
# the words a profile may use beyond its sources: they talk about the reader, not the news
FRAMING = {
    "en": vocabulary("""reader readers read reads reading like likes liked enjoy enjoys interested interest
    interests follow follows following news article articles story stories topic topics mostly especially
    particularly mainly keen fan often frequently seem seems appear appears update updates latest coverage
    keep keeps current event events wide range variety including include kind kinds various different focus
    focuses mix"""),
    "zh": vocabulary("""读者 阅读 喜欢 关注 兴趣 感兴趣 新闻 文章 话题 主题 主要 特别 尤其 经常 喜爱 热衷 各种
    包括 内容 报道 方面 领域 相关 动态 最新 类型 似乎 这位"""),
}
NO_TITLES = {"en": "- (none yet)", "zh": "- （暂无）"}
WROTE = {"en": "The reader wrote: {text}\n", "zh": "读者写道：{text}\n"}
# the fallback: counted categories, then the reader's own words
GENERAL = {"en": "general news", "zh": "综合新闻"}
READS_MOSTLY = {"en": "Reads mostly {topics} news.", "zh": "主要阅读{topics}类新闻。"}
TOPIC_SEPARATOR = {"en": ", ", "zh": "、"}
IN_THEIR_WORDS = {"en": " In their words: {text}", "zh": "读者自述：{text}"}


class UserProfile(BaseModel):
    profile: str = Field(min_length=10, max_length=400)
    # 30 characters: models otherwise copy whole headlines in as "topics"
    topics: list[Annotated[str, StringConstraints(max_length=30)]] = Field(min_length=1, max_length=6)
    from_llm: bool = True

    @field_validator("topics")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        return distinct_phrases(v, at_least=1, max_words=5)

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> UserProfile:
        """With sources in the context (an LLM's reply): nothing unsupported, and the history drawn on."""
        context = info.context or {}
        if "sources" in context:
            context["sources"].require(self.profile, "profile")
            if problems := claim_problems(self.profile, context["sources"].texts):
                raise ValueError(f"the profile {problems[0]}: describe topics, not facts joined from several headlines")
            for topic in self.topics:
                context["sources"].require(topic, "topic")
        history = context.get("history")
        if history is not None and not history.drawn_on(" ".join([self.profile, *self.topics])):
            raise ValueError("the profile says nothing of the headlines read: describe them")
        return self


def _writing(history: list[News], texts: Sequence[str]) -> Writing:
    """The user's language: that of the titles they read and the texts they wrote, together."""
    return Writing.of(*(n.title for n in history[-MAX_TITLES:]), *texts)


def _tags(history: list[News], language: str) -> list[str]:
    """The history's category and subcategory names in `language`, most read first."""
    counts = Counter(x for n in history for x in (n.category, n.subcategory) if x)
    return list(dict.fromkeys(name for tag, _ in counts.most_common() if (name := tag_name(tag, language))))


def _title_line(news: News, language: str) -> str:
    tags = _tags([news], language)
    return TITLE_LINE[language].format(title=news.title, tag=tags[0]) if tags else f"- {news.title}"


def topic_choices(history: list[News], texts: Sequence[str], language: str) -> list[str]:
    """The topics a profile may name: the reader's category names, then the content words of
    their own words and of the titles they read (most recent first)."""
    recent = [n.title for n in reversed(history[-MAX_TITLES:])]
    found = [w for text in [*texts, *recent] for w in claims(text) if not w[0].isdigit()]
    return list(dict.fromkeys([*_tags(history, language), *found]))[:MAX_TOPIC_CHOICES]


def fallback_profile(history: list[News], texts: Sequence[str] = ()) -> UserProfile:
    """Counted, not written: the most read categories and subcategories, named in the reader's language."""
    writing = _writing(history, texts)
    topics = [writing.fit(t) for t in _tags(history, writing.language)[:4] or [GENERAL[writing.language]]]
    reads = READS_MOSTLY[writing.language].format(topics=TOPIC_SEPARATOR[writing.language].join(topics))
    # the reader's own words are quoted as written
    said = writing.fit(IN_THEIR_WORDS[writing.language]).format(text=texts[0][:200]) if texts else ""
    return UserProfile(profile=writing.fit(reads) + said, topics=topics, from_llm=False)


def build_profile(
    llm: AnyLLM, history: list[News], texts: Sequence[str] = (), cache: LLMCache | None = None
) -> UserProfile:
    """A profile from the user's latest reads (most recent last) and any texts they wrote."""
    writing = _writing(history, texts)
    language = writing.language
    recent = history[-MAX_TITLES:]
    titles = "\n".join(_title_line(n, language) for n in recent) or NO_TITLES[language]
    written = "".join(WROTE[language].format(text=t[:300]) for t in texts)
    prompt = PROMPT[language].format(titles=titles, texts=written)
    read = [n.title for n in recent] + _tags(recent, language)
    context = {
        "sources": Sources((*read, *texts), FRAMING[language]),
        "history": Sources(tuple(read), FRAMING[language]) if recent else None,
    }
    schema = reply_schema(UserProfile)
    choices = topic_choices(history, texts, language)
    if choices:  # a grammar keeps a local model to the listed topics
        schema["properties"]["topics"] = {**schema["properties"]["topics"], "items": {"enum": choices}}

    def make() -> dict:
        fallback = lambda: fallback_profile(history, list(texts))  # noqa: E731
        model = llm_for(llm, "profile", language)
        value, _ = generate_structured(
            model, SYSTEM[language], prompt, UserProfile, fallback, writing, context=context, json_schema=schema
        )
        return value.model_dump()

    key = LLMCache.key("profile", model_id_for(llm, "profile", language), PROMPT_VERSION, prompt)
    return UserProfile(**LLMCache.through(cache, key, make))
