"""Explanations: the model computes the facts, the LLM only phrases them.

`Reason` (models/reason.py) holds which history items and interest topics matched a
recommendation and how strongly. Without an LLM, `Reason.sentence` states them in a template.
With one, the LLM rewrites those facts as one friendly sentence, in the language (and Chinese
script) of the news; a reply that is not one short sentence, or that quotes no matched item or
topic, is rejected for the template. Grounding is `models.reason.mentions`: it compares in Simplified
script, so a Simplified reply naming a Traditional title counts as quoting it.
"""

from __future__ import annotations

from newsrec.data.mind import News
from newsrec.llm.backends import AnyLLM, llm_for, model_id_for
from newsrec.llm.cache import LLMCache
from newsrec.llm.writing import Writing, count_words
from newsrec.models.reason import POPULAR, Reason, mentions

__all__ = ["explain", "PROMPT_VERSION"]

PROMPT_VERSION = "explain-v1"
SYSTEM = {
    "en": "You explain news recommendations in one short, friendly sentence, using only the facts given.",
    "zh": "你用一句简短、友好的中文告诉读者为什么推荐这篇新闻，只使用给出的事实。",
}
FACTS = {
    "en": {
        "recommended": 'Recommended: "{title}"',
        "read": '- matches the read article "{title}" (strength {strength:.2f})',
        "interest": '- matches the interest "{topic}" (strength {strength:.2f})',
        "popular": "- popular with other readers",
        "ask": "\n\nOne sentence for the reader:",
    },
    "zh": {
        "recommended": "推荐：「{title}」",
        "read": "- 与读过的文章「{title}」相符（强度 {strength:.2f}）",
        "interest": "- 与兴趣「{topic}」相符（强度 {strength:.2f}）",
        "popular": "- 受其他读者欢迎",
        "ask": "\n\n给读者的一句话：",
    },
}
MAX_WORDS = 40
SENTENCE_ENDS = ".。"


def _title(i: str, news: dict[str, News]) -> str:
    return news[i].title if i in news else i


def _facts(reason: Reason, candidate: News, news: dict[str, News], language: str) -> str:
    say = FACTS[language]
    lines = [say["recommended"].format(title=candidate.title)]
    lines += [say["read"].format(title=_title(i, news), strength=s) for i, s in reason.matched]
    lines += [say["interest"].format(topic=t, strength=s) for t, s in reason.topics]
    if reason.popularity > POPULAR:
        lines.append(say["popular"])
    return "\n".join(lines)


def _grounded(sentence: str, reason: Reason, news: dict[str, News]) -> bool:
    n_words = count_words(sentence)
    if not n_words or n_words > MAX_WORDS or sum(sentence.count(c) for c in SENTENCE_ENDS) > 2:
        return False
    anchors = [t for t, _ in reason.topics] + [_title(i, news) for i, _ in reason.matched]
    return not anchors or any(mentions(sentence, a) for a in anchors)


def explain(
    llm: AnyLLM | None, reason: Reason, candidate: News, news: dict[str, News], cache: LLMCache | None = None
) -> str:
    template = reason.sentence(news, candidate.title)
    if llm is None:
        return template
    writing = Writing.of(candidate.title, *(_title(i, news) for i, _ in reason.matched))
    facts = _facts(reason, candidate, news, writing.language)

    def make() -> dict:
        ask = facts + FACTS[writing.language]["ask"]
        reply = llm_for(llm, writing.language).generate(SYSTEM[writing.language], ask, max_tokens=60)
        reply = writing.fit(" ".join(reply.split()))
        return {"text": reply if _grounded(reply, reason, news) else template}

    key = LLMCache.key("explain", model_id_for(llm, writing.language), PROMPT_VERSION, facts)
    return LLMCache.through(cache, key, make)["text"]
