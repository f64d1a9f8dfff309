"""Does an LLM's text state anything its sources do not? The check every shown LLM text passes.

A reply's claims are its numbers, its names and its other content words. Each must come from
the sources the LLM was given (titles, abstracts, category names, the reader's own words), or
be one of the task's framing words ("because", "you", "read", "推荐"): the words that talk
about the recommendation rather than the news. A number must appear as a number ("39" is not
supported by "thirty-nine people"); an English word matches another with the same Snowball
stem ("stories" ~ "story", "killed" ~ "kill"; "shot" is not "shooting");
a Chinese word must occur in the sources (Simplified and Traditional compare equal), or be a
compound whose head does and that names no one ("交通事故", traffic accident, for a source's
"事故"; not "上海事故"); single characters carry no claim. A text with an unsupported claim
is withheld by the caller: it falls back to the template, the counted profile, or is dropped,
and is counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from newsrec.data.language import STOP_WORDS_ZH, english_stem, fold, is_chinese_name, is_han, to_simplified, words

__all__ = [
    "unsupported",
    "judged",
    "claims",
    "Sources",
    "vocabulary",
    "FUNCTION_WORDS",
    "label_stripped",
]


def vocabulary(text: str) -> frozenset[str]:
    """A word list written as text (words separated by spaces or lines), for readable constants."""
    return frozenset(text.split())


# English words that carry no claim about the news (articles, pronouns, auxiliaries, prepositions)
FUNCTION_WORDS = vocabulary("""a an the and or but nor so yet if then than as of to in on at by for with from into
onto over under about after before since until while during through between among against without within up
down out off again further once here there when where why how what which who whom whose this that these those
it its itself is are was were be been being am do does did done have has had having will would shall should can
could may might must i me my mine we us our ours you your yours he him his she her hers they them their theirs
one ones all any both each few more most other some such no not only own same too very just also even still ever
never let lets let's i'm you're you'll you've you'd it's that's there's here's what's don't doesn't didn't isn't
aren't wasn't weren't hasn't haven't hadn't won't wouldn't can't couldn't shouldn't""")
_ENGLISH_WORD = re.compile(r"[^\W\d_](?:[^\W_]|['’-](?=[^\W_]))*|\d+(?:[.,:]\d+)*")
_LABEL = re.compile(r"^\s*(?:[A-Za-z][A-Za-z ]{0,30}|[\u4e00-\u9fff]{1,8})\s*[:：]\s*")


def label_stripped(text: str) -> str:
    """`text` without a leading label such as "Headline:", "Rewritten headline:" or "标题：" (small
    models like to repeat the prompt's label before their answer)."""
    return _LABEL.sub("", text, count=1)


def _stem(word: str) -> str:
    """The English Snowball stem of `word`, lower case, possessive off ("officers'" ~ "officer")."""
    word = word.lower().replace("’", "'").removesuffix("'s")
    return english_stem(word)


def _number(token: str) -> str:
    return token.replace(",", "")


def claims(text: str) -> list[str]:
    """The words of `text` that say something about the world, as written: numbers, words of
    letters that are not function words, Chinese words of two or more characters that are not
    stop words (in the order they come, without repeats). In a Chinese text every word of
    letters counts: an English "why" there is no function word of the text but a stray one."""
    found: list[str] = []
    pieces = words(text)
    chinese = any(map(is_han, pieces))
    for piece in pieces:
        if is_han(piece):
            if len(piece) > 1 and to_simplified(piece) not in STOP_WORDS_ZH:
                found.append(piece)
            continue
        for token in _ENGLISH_WORD.findall(piece):
            if token[0].isdigit() or chinese or token.lower().replace("’", "'") not in FUNCTION_WORDS:
                found.append(token)
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Sources:
    """What an LLM text may draw on, with the task's framing words; its vocabulary is built once
    and judges any number of replies (a profile and each of its topics). Schema validators get
    it through pydantic's validation context."""

    texts: tuple[str, ...]
    framing: frozenset[str] = frozenset()

    @cached_property
    def _vocabulary(self) -> tuple[set[str], set[str], str, set[str]]:
        """(English stems, numbers, the folded Chinese text, the framing words' stems and folds)."""
        stems, numbers = set(), set()
        for source in self.texts:
            for piece in words(source):  # Chinese segmented first: "北行51號公路" holds the number 51
                for token in _ENGLISH_WORD.findall(piece):
                    (numbers.add(_number(token)) if token[0].isdigit() else stems.add(_stem(token)))
        allowed = {_stem(w) for w in self.framing} | {fold(w) for w in self.framing}
        return stems, numbers, fold(" ".join(self.texts)), allowed

    def judge(self, reply: str) -> dict[str, list[str]]:
        """The claims of `reply` sorted into "sources" (the sources hold them), "framing" (only the
        task's framing words do) and "unsupported" (neither), each as written in the reply."""
        stems, numbers, chinese, allowed = self._vocabulary
        out: dict[str, list[str]] = {"sources": [], "framing": [], "unsupported": []}
        for claim in claims(reply):
            if claim[0].isdigit():
                kind = "sources" if _number(claim) in numbers else "unsupported"
            else:
                key = fold(claim) if is_han(claim) else _stem(claim)
                held = _chinese_held(claim, chinese) if is_han(claim) else key in stems
                kind = "sources" if held else "framing" if key in allowed else "unsupported"
            out[kind].append(claim)
        return out

    def require(self, text: str, what: str, framing: bool = True) -> None:
        """Raise a ValueError naming the unsupported words of `text` (the retry prompt shows it);
        `framing=False`: the framing words do not count either (a keyword is the article's own word)."""
        judged = self.judge(text)
        missing = judged["unsupported"] + ([] if framing else judged["framing"])
        if missing:
            raise ValueError(f"the {what} says what the given texts do not ({', '.join(missing[:6])}): use their words")

    def drawn_on(self, text: str) -> bool:
        """Whether `text` takes at least one claim from these sources (not only framing words)."""
        return bool(self.judge(text)["sources"])


def _chinese_held(word: str, sources: str) -> bool:
    """A Chinese word in the (folded) sources, or a compound of no name whose head (last part) is."""
    if fold(word) in sources:
        return True
    heads = [part for part in words(word, search=True) if part != word and len(part) > 1 and word.endswith(part)]
    return bool(heads) and fold(heads[-1]) in sources and not is_chinese_name(word)


def judged(reply: str, sources: Iterable[str], framing: Iterable[str] = ()) -> dict[str, list[str]]:
    """`Sources(sources, framing).judge(reply)`: the claims of `reply` by what supports them."""
    return Sources(tuple(sources), frozenset(framing)).judge(reply)


def unsupported(reply: str, sources: Iterable[str], framing: Iterable[str] = ()) -> list[str]:
    """The claims of `reply` that neither `sources` nor the task's `framing` words support, as
    written in the reply; empty when the reply is grounded."""
    return judged(reply, sources, framing)["unsupported"]
