"""Explanations faithful by construction: the ranker finds the facts, the LLM only connects them.

`Reason` (models/reason.py) holds which read items and interest topics matched a
recommendation (the two strongest and every other strong one). The explainer takes the
strongest of them that shares something with the recommended story (`links.link_between`: a
name, a tag, a topic of both tags or a word both hold) and asks the LLM for one sentence in
which three slots are copied verbatim: the recommended title, the read title or stated
interest, and the link. A local model writes under a grammar (GBNF) that allows only those
slots, each after a phrase of its role chosen from a short list ("since you read", "you may
like", "both mention": `ROLES`): it cannot state a fact of its own, nor call the read item the
recommendation; it chooses the order and the words. A server that ignores the grammar writes
free text, which the same checks judge. A reply is shown only when it quotes the story and the
reader's item, says the link (or another link both hold), is one short sentence, does not call
the story read, and passes the word check (`grounding.unsupported`) and the claim check
(`claims.claim_problems`: each sentence's names and numbers stand in one source).
Otherwise, or when nothing the reader read shares a link with the story, the template is shown
and the reply's problems are kept in the `Explanation`, to be counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from newsrec.data.categories import tag_name
from newsrec.data.language import fold
from newsrec.data.mind import News
from newsrec.llm.backends import AnyLLM, llm_for, model_id_for
from newsrec.llm.cache import LLMCache
from newsrec.llm.claims import claim_problems, sentences, unquoted
from newsrec.llm.grounding import unsupported, vocabulary
from newsrec.llm.links import Anchor, Link, link_between, links_between
from newsrec.llm.writing import Writing, count_words
from newsrec.models.reason import WEAK_MATCH, Reason

__all__ = ["explain", "Explanation", "explanation_grammar", "PROMPT_VERSION", "FRAMING", "ROLES"]

PROMPT_VERSION = "explain-v3"
SYSTEM = {
    "en": "You tell a reader in one sentence why a news story is recommended to them, using only the facts given.",
    "zh": "你用一句中文告诉读者为什么向他推荐这篇新闻，只使用给出的事实。",
}
OPEN, CLOSE = {"en": "“", "zh": "「"}, {"en": "”", "zh": "」"}
PROMPT = {
    "en": (
        "Example:\nRecommended story: “Towns clean up after the storm”\nThe reader read: “Storm floods the coast”\n"
        "What links them: storm\nSentence: Since you read “Storm floods the coast”, you may like "
        "“Towns clean up after the storm”; both are about the storm.\n\n"
        "Recommended story: “{candidate}”\n{anchor_line}\nWhat links them: {link}\nSentence:"
    ),
    "zh": (
        "例子：\n推荐的新闻：「沿海城镇灾后清理」\n读者读过：「暴雨袭击沿海」\n两者的联系：暴雨\n"
        "句子：因为你读过「暴雨袭击沿海」，你可能会喜欢「沿海城镇灾后清理」，两篇都和暴雨有关。\n\n"
        "推荐的新闻：「{candidate}」\n{anchor_line}\n两者的联系：{link}\n句子："
    ),
}
ANCHOR_LINE = {
    "en": {"read": "The reader read: “{text}”", "interest": "The reader said they like: “{text}”"},
    "zh": {"read": "读者读过：「{text}」", "interest": "读者说自己喜欢：「{text}」"},
}
# the words an explanation may use beyond its facts: they talk about the recommendation, not the news
FRAMING = {
    "en": vocabulary("""because since read reading reader readers article articles story stories news headline headlines
    recommend recommended recommendation interest interests interested like likes liked enjoy enjoyed follow
    followed following similar related topic topics match matches matched popular popularity might want see
    check find learn know latest update updates recent recently based history strong strongly piece coverage
    love loved keen fan fans another given here today try concern deal mention mentions feature features cover
    covers involve involves share shares shared link links linked connect connects connected said say
    clicked opened"""),
    "zh": vocabulary("""因为 由于 推荐 推荐给 读过 阅读 读者 文章 新闻 报道 标题 兴趣 感兴趣 喜欢
    相关 关注 类似 相似 话题 主题 相符 符合 受欢迎 欢迎 可能 这篇 这则 一篇
    其他 最近 看看 了解 更多 内容 所以 觉得 正在 热门 读到 也许 或许 一定 应该
    两篇 两者 有关 关于 提到 涉及 同样 一样 说过 说 联系 都
    既然 看过 不妨 它们 讲到"""),
}
# What a local model may write around the slots (under the grammar): each slot comes after a
# phrase of its role, chosen from a short list, so the read item is never called the
# recommendation, and the link after a phrase that says both hold it.
ROLES = {
    "en": {
        "because": ["Because", "Since", "As"],
        "read": ["you read", "you clicked on", "you opened"],  # what a click says; not "you liked"
        "interest": ["you said you like", "you follow", "you are interested in"],
        "offer": [
            "you may like",
            "you might like",
            "you may enjoy",
            "you might enjoy",
            "you may want to read",
            "here is",
            "try",
            "check out",
        ],
        "offer_first": [
            "You may like",
            "You might like",
            "You may enjoy",
            "You might enjoy",
            "Try",
            "Check out",
            "Here is",
        ],
        "then": ["because", "since", "as"],
        "both": ["both", "they both", "each"],
        "also": ["also"],
        "hold": ["are about", "mention", "cover", "feature", "involve", "are stories about", "deal with", "concern"],
    },
    "zh": {
        "because": ["因为", "由于", "既然"],
        "read": ["你读过", "你看过"],
        "interest": ["你说过喜欢", "你关注"],
        "offer": ["你可能会喜欢", "你也许会喜欢", "推荐你看", "不妨看看", "也推荐你读"],
        "offer_first": ["推荐你看", "你可能会喜欢", "你也许会喜欢", "不妨看看"],
        "then": ["因为", "由于"],
        "both": ["两篇", "两者", "它们"],
        "also": ["都", "同样"],
        "hold": ["提到", "涉及", "关于", "讲到"],
        "with": ["和", "与", "跟"],
        "related": ["有关", "相关"],
    },
}
MAX_CONNECTING = 30  # words outside the quoted slots


@dataclass(frozen=True)
class Explanation:
    """The sentence shown, whether the LLM wrote it, why a withheld reply was withheld, and the reply."""

    text: str
    by_llm: bool
    problems: list[str] = field(default_factory=list)
    reply: str = ""  # the LLM's own sentence, shown or not
    anchor: str = ""  # the read title or interest the reply was asked to quote (an outside judge's second source)


def _anchors(reason: Reason, news: dict[str, News]) -> list[Anchor]:
    """The reader's matched items and interests, strongest first; none below `WEAK_MATCH`, where
    "since you read" would claim a pull the ranker did not feel (the template says so too)."""
    found = [
        (s, Anchor(news[i].title, "read", (news[i].subcategory, news[i].category)))
        for i, s in reason.matched
        if i in news
    ]
    found += [(s, Anchor(t, "interest")) for t, s in reason.topics]
    return [a for s, a in sorted(found, key=lambda pair: -pair[0]) if s >= WEAK_MATCH]


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a GBNF string literal: JSON's escapes are GBNF's


def _choice(phrases: list[str]) -> str:
    return "(" + " | ".join(map(_literal, phrases)) + ")"


def explanation_grammar(candidate: str, anchor: Anchor, link: Link, language: str) -> str:
    """A GBNF grammar for one sentence: the read item (or interest) and the recommended title
    quoted, each after a phrase of its role (`ROLES`), in either order; then the link, after a
    phrase saying both hold it."""
    o, c, say = OPEN[language], CLOSE[language], ROLES[language]
    one = {key: _choice(phrases) for key, phrases in say.items()}
    kind = anchor.kind
    if language == "zh":
        read_first = f'{one["because"]} {one[kind]} anchor "，" {one["offer"]} cand'
        offer_first = f'{one["offer_first"]} cand "，" {one["then"]} {one[kind]} anchor'
        link_rule = f"{one['both']}? {one['also']} ({one['with']} link {one['related']} | {one['hold']} link)"
        tail = f'"，" {link_rule} "。"'
    else:
        read_first = f'{one["because"]} " " {one[kind]} " " anchor ", " {one["offer"]} " " cand'
        offer_first = f'{one["offer_first"]} " " cand " " {one["then"]} " " {one[kind]} " " anchor'
        article = "" if link.kind == "name" else '("the ")? '  # "about the storm", not "the Joe Girardi"
        tail = f'("; " | ", ") {one["both"]} (" " {one["also"]})? " " {one["hold"]} " " {article}link "."'
    return "\n".join(
        [
            f"root ::= ({read_first} | {offer_first}) {tail}",
            f"cand ::= {_literal(o + candidate + c)}",
            f"anchor ::= {_literal(o + anchor.text + c)}",
            f"link ::= {_literal(link.term)}",
        ]
    )


def _problems(
    reply: str, candidate: News, anchor: Anchor, link: Link, reason: Reason, news: dict[str, News], language: str
) -> list[str]:
    """Why `reply` cannot be shown; empty when it can."""
    said = fold(" ".join(reply.split()))
    quoted = [fold(OPEN[language] + " ".join(t.split()) + CLOSE[language]) for t in (candidate.title, anchor.text)]
    problems = []
    if quoted[0] not in said:
        problems.append("(does not name the recommended story)")
    if quoted[1] not in said:
        problems.append("(does not quote what the reader read or said)")
    # the words between the last quote before the story's title and that title
    before = said.split(quoted[0])[0].rsplit(fold(CLOSE[language]), 1)[-1] if quoted[0] in said else ""
    if any(fold(p) in before for p in ROLES[language]["read"] + ROLES[language]["interest"]):
        problems.append("(calls the recommended story read)")
    # the reader's side: each matched title and interest, a source (and a title to quote) of its own
    reader = [*(news[i].title for i, _ in reason.matched if i in news), *(t for t, _ in reason.topics)]
    titles = [candidate.title, *reader]
    connecting = unquoted(reply, titles)
    # the link asked for, or another both hold (a reply of an earlier rule that still says a true link)
    if not any(fold(said.term) in fold(connecting) for said in [link, *links_between(candidate, anchor, language)]):
        problems.append("(does not say what links them)")
    if len(sentences(reply)) != 1 or not 3 <= count_words(connecting) <= MAX_CONNECTING:
        problems.append("(not one short sentence of its own words)")
    tags = [name for tag in (candidate.subcategory, candidate.category) if (name := tag_name(tag, language))]
    sources = [" ".join([candidate.title, candidate.abstract, *tags]), *reader]
    problems += unsupported(connecting, sources, FRAMING[language])
    return problems + claim_problems(reply, sources, titles)


def explain(
    llm: AnyLLM | None, reason: Reason, candidate: News, news: dict[str, News], cache: LLMCache | None = None
) -> Explanation:
    """Why `candidate` is recommended: the LLM's sentence when it passes every check, else the template."""
    template = reason.sentence(news, candidate.title)
    writing = Writing.of(candidate.title)
    language = writing.language
    linked = [(a, link) for a in _anchors(reason, news) if (link := link_between(candidate, a, language))]
    if llm is None or not linked:
        return Explanation(template, False, [] if llm is None else ["(no strong match shares a link with the story)"])
    anchor, link = linked[0]
    line = ANCHOR_LINE[language][anchor.kind].format(text=anchor.text)
    prompt = PROMPT[language].format(candidate=candidate.title, anchor_line=line, link=link.term)
    grammar = explanation_grammar(candidate.title, anchor, link, language)

    def make() -> dict:
        model = llm_for(llm, "explain", language)
        reply = writing.fit(" ".join(model.generate(SYSTEM[language], prompt, max_tokens=160, grammar=grammar).split()))
        for title in (candidate.title, anchor.text):  # the news's script, but each quoted title exactly as written
            reply = reply.replace(writing.fit(" ".join(title.split())), title)
        return {"reply": reply}

    # the grammar is part of the request: a reply cached under another grammar is not this one's
    key = LLMCache.key("explain", model_id_for(llm, "explain", language), PROMPT_VERSION, prompt + grammar)
    reply = LLMCache.through(cache, key, make)["reply"]  # the raw reply: a stricter check needs no new generation
    problems = _problems(reply, candidate, anchor, link, reason, news, language)
    if problems:
        return Explanation(template, False, problems, reply, anchor.text)
    return Explanation(reply, True, reply=reply, anchor=anchor.text)
