"""User interest profiles in plain words, written by the LLM from what a user read and wrote.

The profile text can feed the user encoder: it is encoded by the PLM and fused with the
history vector (`Ranker.score(..., interest_texts=...)`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from newsrec.data.mind import News
from newsrec.llm.backends import LLM
from newsrec.llm.cache import LLMCache
from newsrec.llm.structured import distinct_phrases, generate_structured

__all__ = ["UserProfile", "build_profile", "fallback_profile", "PROMPT_VERSION"]

PROMPT_VERSION = "profile-v2"
MAX_TITLES = 20
SYSTEM = "You describe a news reader's interests as JSON."
PROMPT = (
    "Recently read headlines:\n{titles}\n{texts}\n"
    'Write a JSON object with "profile" (one or two sentences on what this reader likes) and '
    '"topics" (2 to 6 short interest topics).'
)


class UserProfile(BaseModel):
    profile: str = Field(min_length=10, max_length=400)
    # 30 characters: models otherwise copy whole headlines in as "topics"
    topics: list[Annotated[str, StringConstraints(max_length=30)]] = Field(min_length=1, max_length=6)
    from_llm: bool = True

    @field_validator("topics")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        return distinct_phrases(v, at_least=1, max_words=5)


def fallback_profile(history: list[News], texts: Sequence[str] = ()) -> UserProfile:
    """Counted, not written: the most read categories and subcategories."""
    counts = Counter(x for n in history for x in (n.category, n.subcategory) if x)
    topics = [t for t, _ in counts.most_common(4)] or ["general news"]
    said = f" In their words: {texts[0][:200]}" if texts else ""
    return UserProfile(profile=f"Reads mostly {', '.join(topics)} news.{said}", topics=topics, from_llm=False)


def build_profile(
    llm: LLM, history: list[News], texts: Sequence[str] = (), cache: LLMCache | None = None
) -> UserProfile:
    """A profile from the user's latest reads (most recent last) and any texts they wrote."""
    titles = "\n".join(f"- {n.title}" for n in history[-MAX_TITLES:]) or "- (none yet)"
    written = "".join(f"The reader wrote: {t[:300]}\n" for t in texts)
    prompt = PROMPT.format(titles=titles, texts=written)

    def make() -> dict:
        fallback = lambda: fallback_profile(history, list(texts))  # noqa: E731
        return generate_structured(llm, SYSTEM, prompt, UserProfile, fallback)[0].model_dump()

    return UserProfile(**LLMCache.through(cache, LLMCache.key("profile", llm.model_id, PROMPT_VERSION, prompt), make))
