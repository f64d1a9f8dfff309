"""An independent judge of LLM texts: shares no code with newsrec's own checks (llm/claims.py,
llm/grounding.py), so a fault both miss is not one bug counted twice.

A text is faulty when it
- states a number or name that no source holds (plain case-insensitive substring search);
- joins, in one sentence, numbers and names that only different sources hold;
- copies a title instead of writing: an explanation made of a read title (or with under three
  words of its own beside the quoted titles), a paraphrase or summary that is its title again;
- (explanations) does not name the recommended story: its title is not in the text.

Names: in English, capitalised words that do not open a sentence and words with two capitals;
in a text in Title Case, only the capitalised words that an English word list (the
`english-words` package, web2) does not hold in lower case, with -s/-ed/-ing taken off, and
the words with two capitals. In Chinese, the words jieba's tagger marks as people, places,
bodies or other names, and Latin-script words. A title quoted verbatim claims nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

_QUOTED = re.compile(r"「([^」]+)」|“([^”]+)”|『([^』]+)』|\"([^\"]+)\"")  # a title may hold straight quotes
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Verdict:
    faults: list[str] = field(default_factory=list)

    @property
    def faulty(self) -> bool:
        return bool(self.faults)


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(w for w in get_english_words_set(["web2"], lower=False) if w.islower())


def _common(word: str) -> bool:
    w = word.lower().replace("’", "'").removesuffix("'s")
    forms = {w}
    for suffix, bases in (("s", ("",)), ("es", ("",)), ("ed", ("", "e")), ("ing", ("", "e"))):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            forms |= {w[: -len(suffix)] + b for b in bases}
    return bool(forms & _common_words())


def _plain(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _without_quoted_titles(text: str, titles: Sequence[str]) -> str:
    known = {_plain(t) for t in titles}
    return _QUOTED.sub(lambda m: " ## " if _plain(next(g for g in m.groups() if g)) in known else m.group(0), text)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z“\"])|(?<=[。！？])", text) if s.strip()]


def _title_case(text: str) -> bool:
    letters = [w for w in _WORD.findall(text) if len(w) > 3]
    return bool(letters) and sum(w[0].isupper() for w in letters) > 0.6 * len(letters)


def names_and_numbers(sentence: str) -> list[str]:
    """What `sentence` states that a source must hold: numbers and names (module docstring)."""
    found = _NUMBER.findall(sentence)
    if _HAN.search(sentence):
        import jieba.posseg

        found += [p.word for p in jieba.posseg.cut(sentence) if p.flag in {"nr", "ns", "nt", "nz", "nrt", "nrfg"}]
        found += [w for w in _WORD.findall(sentence) if len(w) > 1]
        return found
    title_case = _title_case(sentence)
    words = list(re.finditer(r"[A-Za-z][A-Za-z'’]*", sentence))
    for i, m in enumerate(words):
        w = re.sub(r"['’]s?$", "", m.group(0))  # "America's", "Kardashians'"
        two_capitals = sum(c.isupper() for c in w) >= 2
        if two_capitals or (w[0].isupper() and i > 0 and w != "I" and not (title_case and _common(w))):
            found.append(w)
    return found


def _held(fact: str, source: str) -> bool:
    return fact.lower().replace("’", "'") in source.lower().replace("’", "'")


def judge(text: str, sources: Sequence[str], task: str, story: str = "", titles: Sequence[str] = ()) -> Verdict:
    """The faults of `text`, written for `task` ("explain", "summary", "paraphrase", "profile")
    from `sources`; `story`: the recommended title (explain) or the item's title (paraphrase,
    summary); `titles`: titles the text may quote (explain)."""
    verdict = Verdict()
    body = _without_quoted_titles(text, [*titles, story])
    for sentence in _sentences(body):
        facts = names_and_numbers(sentence)
        homes = [[i for i, s in enumerate(sources) if _held(f, s)] for f in facts]
        verdict.faults += [f"{f} in no source" for f, h in zip(facts, homes) if not h]
        if all(homes) and len(facts) > 1 and not set(homes[0]).intersection(*map(set, homes[1:])):
            verdict.faults.append(f"merges {', '.join(facts)} from different sources")
    if task == "explain":
        if _plain(story) not in _plain(text):
            verdict.faults.append("does not name the recommended story")
        own = [w for w in re.findall(r"\w+", body.replace("##", " ")) if w]
        if len(own) < 3 or any(_plain(text) == _plain(t) for t in titles if t != story):
            verdict.faults.append("copies a title")
    elif task in ("paraphrase", "summary") and _plain(text) == _plain(story):
        verdict.faults.append("copies the title")
    return verdict
