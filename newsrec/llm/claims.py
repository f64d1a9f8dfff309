"""Does an LLM's sentence join facts that no one source holds together? The claim-level check.

`grounding` asks whether each word of a reply occurs in some source; a reply can pass it and
still be false, by joining the facts of two stories ("The Yankees hired Joe Girardi" from
"Phillies agree to hire Joe Girardi" and a story on the Yankees). This check holds each sentence
to one source: its facts (numbers and names) must all stand in a single source text, given as
the task defines them: a news item's title, abstract and tags are one source; each read title
and each of the reader's interests is its own source. A title quoted verbatim ("...", “...”,
「...」) names its story and is not a claim. Every LLM task runs it: explanations, summaries,
paraphrases and profiles.

Names are capitalised words that do not open a sentence and words with a capital inside
("LAPD", "McDonald's"), runs of them taken as one ("Joe Girardi"); in Chinese, the words
jieba tags as people, places or bodies, and Latin-script names. A fact is in a source when
the source holds it as a whole word (case and Chinese script folded).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from newsrec.data.language import fold, is_chinese_name, is_han, words
from newsrec.llm.grounding import vocabulary

__all__ = ["sentences", "unquoted", "facts", "holds", "claim_problems", "is_title_case"]

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
_QUOTED = re.compile(r'「([^」]+)」|“([^”]+)”|『([^』]+)』|"([^"]+)"')  # a title may hold straight quotes
_LATIN = "A-Za-z0-9À-ÖØ-öø-ÿ"  # the letters of a Latin-script word: never Han ("Day有關" is "Day", "有關")
_NUMBER = rf"(?<![{_LATIN}])\d+(?:[.,:]\d+)*"
# a capitalised word, or a word with a capital after its first letter; apostrophes and hyphens inside
_NAME_WORD = rf"(?:[A-Z][{_LATIN}'’]*(?:-[{_LATIN}'’]+)*|[a-z]+[A-Z][{_LATIN}'’]*)"
_NAME_RUN = re.compile(rf"{_NAME_WORD}(?:\s+{_NAME_WORD})*")
_OPENING = re.compile(r"^\W*")
_PRONOUNS = frozenset({"I", "I'm", "I’m", "I've", "I'd", "I'll"})
# small words a Title Case headline capitalises inside, and sentence case never does
_SMALL_WORDS = vocabulary("Is Are On In Of For To With And At By From The A An As Or But Into Over After")


def is_title_case(text: str) -> bool:
    """Whether `text` is written in Title Case, where capitals mark no names: most words of four
    or more letters capitalised (over three in four), or a small word capitalised inside
    ("Ties Case To Trump"). A title naming people ("Travis Scott and Kylie Jenner's daughter")
    is not."""
    words_ = re.findall(r"[A-Za-z][\w'’-]*", text)
    longer = [w for w in words_ if len(w) > 3]
    if any(w in _SMALL_WORDS for w in words_[1:]):
        return True
    return bool(longer) and sum(w[0].isupper() for w in longer) > 0.75 * len(longer)


def sentences(text: str) -> list[str]:
    """`text` cut after each sentence end outside quotes ("...", “...”, 「...」)."""
    spans = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > start and not any(a < m.start() < b for a, b in spans):
            out.append(text[start : m.start()].strip())
            start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def _same_text(text: str) -> str:
    return " ".join(fold(text).split())


def unquoted(sentence: str, titles: Sequence[str]) -> str:
    """`sentence` with each quoted span that is one of `titles` verbatim (case, script and
    spacing folded) cut out: a quoted title names its story rather than claiming its facts again."""
    known = {_same_text(t) for t in titles}

    def cut(m: re.Match) -> str:
        inner = next(g for g in m.groups() if g is not None)
        return " … " if _same_text(inner) in known else m.group(0)

    return _QUOTED.sub(cut, sentence)


def facts(sentence: str, opening: bool = True) -> list[str]:
    """The numbers and names `sentence` states, in order, without repeats (see the module
    docstring); `opening=False`: the text does not open a sentence (a title), so its first
    capitalised word may be a name too ("Coast Guard searches ...")."""
    found = re.findall(_NUMBER, sentence)
    body = _OPENING.sub("", sentence)
    for m in _NAME_RUN.finditer(body):
        run = [w for w in m.group(0).split() if w not in _PRONOUNS]
        if opening and m.start() == 0 and run and not re.search(r"[A-Z]", run[0][1:]):
            run = run[1:]  # a capital that opens the sentence marks no name
        if run:
            found.append(" ".join(run))
    found += [w for w in words(sentence) if is_han(w) and len(w) > 1 and is_chinese_name(w)]
    return list(dict.fromkeys(found))


def holds(source: str, fact: str) -> bool:
    """Whether `source` (folded) holds `fact` as a whole word (Chinese: as a substring)."""
    fact = fold(fact)
    if is_han(fact[0]) or is_han(fact[-1]):
        return fact in source
    return re.search(rf"(?<![{_LATIN}]){re.escape(fact)}(?![{_LATIN}])", source) is not None


def claim_problems(text: str, sources: Sequence[str], titles: Sequence[str] = ()) -> list[str]:
    """Why `text` is not true to its `sources` sentence by sentence: a fact (number or name) no
    source holds, or facts that only different sources hold ("joins ..."); empty when each
    sentence's facts stand together in one source. `titles`: texts that may be quoted verbatim."""
    folded = [fold(s) for s in sources if s]
    problems: list[str] = []
    for sentence in sentences(text):
        stated = facts(unquoted(sentence, titles))
        if not stated:
            continue
        homes = {f: {i for i, s in enumerate(folded) if holds(s, f)} for f in stated}
        if missing := [f for f, where in homes.items() if not where]:
            problems += [f"{f} is in no source" for f in missing]
        elif not set.intersection(*homes.values()):
            problems.append(f"joins {', '.join(stated)}, which no one source holds together")
    return problems
