"""Explanations: the model computes the facts, the LLM only phrases them.

`Reason` (models/reason.py) holds which history items and interest topics matched a
recommendation and how strongly. Without an LLM, `Reason.sentence` states them in a template.
With one, the LLM rewrites those facts as one friendly sentence, in the language (and Chinese
script) of the news. The reply is shown only when it is one short sentence, names a matched item
or topic (`models.reason.mentions`, either Chinese script), and states nothing its facts do not
hold (`grounding.unsupported`: every number, name and content word comes from the candidate's
title, abstract or category, the matched titles, the reader's interests, or the few words that
talk about a recommendation). Otherwise the template is shown and the reply's unsupported words
are kept in the `Explanation`, to be counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsrec.data.categories import tag_name
from newsrec.data.mind import News
from newsrec.llm.backends import AnyLLM, llm_for, model_id_for
from newsrec.llm.cache import LLMCache
from newsrec.llm.grounding import unsupported, vocabulary
from newsrec.llm.writing import Writing, count_words
from newsrec.models.reason import POPULAR, Reason, mentions

__all__ = ["explain", "Explanation", "PROMPT_VERSION", "FRAMING"]

PROMPT_VERSION = "explain-v2"
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
# the words an explanation may use beyond its facts: they talk about the recommendation, not the news
FRAMING = {
    "en": vocabulary("""because since read reading reader readers article articles story stories news headline headlines
    recommend recommended recommendation interest interests interested like likes liked enjoy enjoyed follow
    followed following similar related topic topics match matches matched popular popularity might want see
    check find learn know latest update updates recent recently based history strong strongly piece coverage
    love loved keen fan fans another given here today"""),
    "zh": vocabulary("""因为 由于 推荐 推荐给 读过 阅读 读者 文章 新闻 报道 标题 兴趣 感兴趣 喜欢
    相关 关注 类似 相似 话题 主题 相符 符合 受欢迎 欢迎 可能 这篇 这则 一篇
    其他 最近 看看 了解 更多 内容 所以 觉得 正在 热门 读到 也许 或许 一定 应该"""),
}


@dataclass(frozen=True)
class Explanation:
    """The sentence shown, whether the LLM wrote it, what a withheld reply claimed unsupported, and the reply."""

    text: str
    by_llm: bool
    unsupported: list[str] = field(default_factory=list)
    reply: str = ""  # the LLM's own sentence, shown or not


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


def _sources(reason: Reason, candidate: News, news: dict[str, News], language: str) -> list[str]:
    """What an explanation may draw on: the candidate's text and tags, the matched titles, the reader's interests."""
    tags = [name for tag in (candidate.category, candidate.subcategory) if (name := tag_name(tag, language))]
    matched = [_title(i, news) for i, _ in reason.matched]
    return [candidate.title, candidate.abstract, *tags, *matched, *(t for t, _ in reason.topics), reason.topics_text]


def _problems(sentence: str, reason: Reason, sources: list[str], language: str, news: dict[str, News]) -> list[str]:
    """Why `sentence` cannot be shown (its unsupported words, or the rule it breaks); empty when it can."""
    n_words = count_words(sentence)
    if not n_words or n_words > MAX_WORDS or sum(sentence.count(c) for c in SENTENCE_ENDS) > 2:
        return ["(not one short sentence)"]
    anchors = [t for t, _ in reason.topics] + [_title(i, news) for i, _ in reason.matched]
    if anchors and not any(mentions(sentence, a) for a in anchors):
        return ["(names no matched item or interest)"]
    return unsupported(sentence, sources, FRAMING[language])


def explain(
    llm: AnyLLM | None, reason: Reason, candidate: News, news: dict[str, News], cache: LLMCache | None = None
) -> Explanation:
    """Why `candidate` is recommended: the LLM's sentence when it is grounded, else the template."""
    template = reason.sentence(news, candidate.title)
    if llm is None:
        return Explanation(template, by_llm=False)
    writing = Writing.of(candidate.title, *(_title(i, news) for i, _ in reason.matched))
    facts = _facts(reason, candidate, news, writing.language)

    def make() -> dict:
        ask = facts + FACTS[writing.language]["ask"]
        reply = llm_for(llm, "explain", writing.language).generate(SYSTEM[writing.language], ask, max_tokens=60)
        return {"reply": writing.fit(" ".join(reply.split()))}

    key = LLMCache.key("explain", model_id_for(llm, "explain", writing.language), PROMPT_VERSION, facts)
    reply = LLMCache.through(cache, key, make)["reply"]  # the raw reply: a stricter check needs no new generation
    problems = _problems(reply, reason, _sources(reason, candidate, news, writing.language), writing.language, news)
    return Explanation(template, False, problems, reply) if problems else Explanation(reply, True, reply=reply)
