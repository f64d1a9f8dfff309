"""User interest profiles in plain words, written by the LLM from what a user read and wrote.

The profile text can feed the user encoder: it is encoded by the PLM and fused with the
history vector (`Ranker.score(..., interest_texts=...)`). It is written in the language (and
Chinese script) of what the user read and wrote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from newsrec.data.categories import tag_name
from newsrec.data.mind import News
from newsrec.llm.backends import AnyLLM, llm_for, model_id_for
from newsrec.llm.cache import LLMCache
from newsrec.llm.structured import distinct_phrases, generate_structured
from newsrec.llm.writing import Writing

__all__ = ["UserProfile", "build_profile", "fallback_profile", "PROMPT_VERSION"]

PROMPT_VERSION = "profile-v2"
MAX_TITLES = 20
SYSTEM = {"en": "You describe a news reader's interests as JSON.", "zh": "你用 JSON 描述一位新闻读者的兴趣，用中文写。"}
PROMPT = {
    "en": (
        "Recently read headlines:\n{titles}\n{texts}\n"
        'Write a JSON object with "profile" (one or two sentences on what this reader likes) and '
        '"topics" (2 to 6 short interest topics).'
    ),
    "zh": (
        "最近阅读的新闻标题：\n{titles}\n{texts}\n"
        '请写一个 JSON 对象，包含 "profile"（用一两句中文说明这位读者喜欢什么）和 '
        '"topics"（2 到 6 个简短的中文兴趣主题）。'
    ),
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


def _writing(history: list[News], texts: Sequence[str]) -> Writing:
    """The user's language: that of the titles they read and the texts they wrote, together."""
    return Writing.of(*(n.title for n in history[-MAX_TITLES:]), *texts)


def fallback_profile(history: list[News], texts: Sequence[str] = ()) -> UserProfile:
    """Counted, not written: the most read categories and subcategories, named in the reader's language."""
    writing = _writing(history, texts)
    counts = Counter(x for n in history for x in (n.category, n.subcategory) if x)
    named = dict.fromkeys(name for tag, _ in counts.most_common() if (name := tag_name(tag, writing.language)))
    topics = [writing.fit(t) for t in list(named)[:4] or [GENERAL[writing.language]]]
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
    titles = "\n".join(f"- {n.title}" for n in history[-MAX_TITLES:]) or NO_TITLES[language]
    written = "".join(WROTE[language].format(text=t[:300]) for t in texts)
    prompt = PROMPT[language].format(titles=titles, texts=written)

    def make() -> dict:
        fallback = lambda: fallback_profile(history, list(texts))  # noqa: E731
        model = llm_for(llm, language)
        return generate_structured(model, SYSTEM[language], prompt, UserProfile, fallback, writing)[0].model_dump()

    key = LLMCache.key("profile", model_id_for(llm, language), PROMPT_VERSION, prompt)
    return UserProfile(**LLMCache.through(cache, key, make))
