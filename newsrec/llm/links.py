"""What links a recommended story to what the reader read or said: the fact an explanation states.

A link is true of each side on its own: a name both texts hold ("Joe Girardi"; a Chinese name
whole, "克里斯·布朗" and never its "克里斯"), the subcategory or category both items carry ("NFL
football"), a topic word the names of both items' tags hold ("stars" of "TV stars" and "music
stars"), or (English) a content word both titles use ("hurricane"). Saying "both are about Joe
Girardi" joins no facts across sources, so an explanation may say it; a link found in only one
of them is never offered.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from newsrec.data.categories import NAMES, tag_name
from newsrec.data.language import fold, is_han, to_simplified, words
from newsrec.data.mind import News
from newsrec.llm.claims import facts, holds, is_title_case
from newsrec.llm.grounding import FUNCTION_WORDS
from newsrec.models.reason import content_words

__all__ = ["Link", "Anchor", "link_between", "links_between"]

_NAME_DOTS = "·‧•・"  # between the parts of a name written in Chinese ("克里斯·布朗")
_PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})  # jieba's tags of people; with places and bodies, of names
_NAME_TAGS = _PERSON_TAGS | {"ns", "nt", "nz"}
# the kind of text, not a topic: a "健康新闻" (health news) and a "美国新闻" (US news) item share no topic by it
_NOT_A_TOPIC = frozenset({"news", "新闻"})


@dataclass(frozen=True)
class Anchor:
    """The reader's side of a link: a title they read (with its tags) or an interest they stated."""

    text: str
    kind: Literal["read", "interest"]
    tags: tuple[str, ...] = ()  # (subcategory, category) of a read item


@dataclass(frozen=True)
class Link:
    term: str  # as the recommended story (or its tag's name) writes it
    kind: Literal["name", "tag", "word"]


def _runs(found: list[str], parts: bool) -> set[str]:
    """Name runs without possessives and quotes ("Girardi's", "'Cupcake'"), with `parts` every
    part of each run too; none with a function word at either end ("The", "the Yankees")."""
    runs = [" ".join(re.sub(r"['’]s$", "", w).strip("'’") for w in f.split()) for f in found]
    runs = [r for r in runs if r and not r[0].isdigit()]
    if parts:
        words_of = [run.split() for run in runs]
        runs = [" ".join(p[i:j]) for p in words_of for i in range(len(p)) for j in range(i + 1, len(p) + 1)]
    return {r for r in runs if not {r.split()[0].lower(), r.split()[-1].lower()} & FUNCTION_WORDS}


@lru_cache(maxsize=1)
def _tagger():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading banner says nothing useful
    return jieba.posseg


def _tagged(text: str) -> list[tuple[str, str]]:
    """Each word of Chinese `text` as written, with the tag jieba's tagger gives it in its sentence."""
    simple = to_simplified(text)
    segmented = simple if len(simple) == len(text) else text
    out, at = [], 0
    for piece in _tagger().cut(segmented):
        out.append((text[at : at + len(piece.word)], piece.flag))
        at += len(piece.word)
    return out


def _han_names(text: str) -> set[str]:
    """The Chinese names of `text` whole, by jieba's tags in the sentence: a person's name of
    pieces that touch ("柯林卡佩尼克", not its "尼克") or that a name dot joins, whatever the tag
    of the word after the dot ("克里斯·布朗", Chris Brown, which shares nothing with "克里斯·保罗",
    Chris Paul; "帕特里克·戴", not "帕特里克"); a place or body alone ("尼亚加拉" of "尼亚加拉布")."""
    if not any(map(is_han, text)):
        return set()
    runs, run, person = [], "", False
    for word, flag in [*_tagged(text), ("", "")]:
        name, is_person = is_han(word) and flag in _NAME_TAGS, flag in _PERSON_TAGS
        if run and (word in _NAME_DOTS or (is_han(word) and run[-1] in _NAME_DOTS) or (name and person and is_person)):
            run += word
        else:
            runs.append(run)
            run = word if name else ""
        person = is_person if name else person
    return {r.strip(_NAME_DOTS) for r in runs if len(r.strip(_NAME_DOTS)) > 1}


def _latin(found: list[str]) -> list[str]:
    return [f for f in found if not is_han(f)]


def _names(text: str) -> tuple[set[str], set[str]]:
    """(sure, unsure) names of `text`. Sure: runs of capitalised words that do not open it
    ("Willie Brown", not "Willie"), and Chinese names whole (`_han_names`). Unsure: a run with
    the capital that opens the text ("Joe Girardi's first words", but also "Indicted Giuliani
    associate"), and in a Title Case text, where capitals mark no name, every part of every run."""
    han = _han_names(text)
    if is_title_case(text):
        return han, _runs(_latin(facts(text, opening=False)), parts=True)
    sure = _runs(_latin(facts(text)), parts=False) | han
    return sure, _runs(_latin(facts(text, opening=False)), parts=False) - sure


def _same_name(name: str) -> str:
    """A name compared with and without its dots: "希拉里·克林顿" is "希拉里克林顿"."""
    return "".join(c for c in to_simplified(name) if c not in _NAME_DOTS)


def _shared_name(candidate: str, anchor: str) -> str | None:
    """The longest name both texts write, capitals and all, as it stands in each ("Cupcake
    McKinney" of "'Cupcake' McKinney" is not), and sure in at least one of them (`_names`): an
    opening capital or a Title Case title alone does not make a name ("Indicted Giuliani")."""
    (sure_c, unsure_c), (sure_a, unsure_a) = _names(candidate), _names(anchor)
    keys_a, sure_keys_a = {_same_name(n) for n in sure_a | unsure_a}, {_same_name(n) for n in sure_a}
    shared = {n for n in sure_c if _same_name(n) in keys_a} | {n for n in unsure_c if _same_name(n) in sure_keys_a}
    shared = {n for n in shared if holds(fold(candidate), n) and holds(fold(_same_name(anchor)), _same_name(n))}
    # ties go to the name said later in the story's title: a title opens with its label ("The Latest:
    # ... Brexit"), and a set's order would follow the process's string hashing
    return max(shared, key=lambda n: (len(n.split()), len(n), fold(candidate).rfind(fold(n)), n), default=None)


def _shared_word(candidate: str, anchor: str) -> str | None:
    """The longest content word both titles hold, as the candidate writes it: whole words, not
    the parts jieba finds inside them ("克尔" of "马克尔" and "迈克尔" is no link)."""
    common = content_words(candidate, inside=False) & content_words(anchor, inside=False)
    written = [w.strip(".,:;!?'\"()“”") for w in words(candidate)]
    return max((w for w in written if fold(w) in common), key=len, default=None)


def _tag_term(tag: str, language: str) -> str | None:
    """A tag's name in `language`; in English only a tag with a name ("movievideo" has none)."""
    return tag_name(tag, language) if tag and (tag.lower() in NAMES or language == "zh") else None


def _shared_tag_word(candidate: News, anchor: Anchor, language: str) -> str | None:
    """A topic word the names of both items' tags hold: "明星" (stars) of "电视明星" (TV stars)
    and "音乐明星" (music stars), tags of two categories; never "news", the kind of text."""
    theirs = {w for tag in anchor.tags if (name := _tag_term(tag, language)) for w in content_words(name)}
    for tag in (candidate.subcategory, candidate.category):
        name = _tag_term(tag, language) or ""
        shared = [w for w in words(name, search=True) if fold(w) in theirs - _NOT_A_TOPIC]
        if shared:
            return max(shared, key=len)
    return None


def links_between(candidate: News, anchor: Anchor, language: str) -> list[Link]:
    """Every link of `candidate` to `anchor`, the one to say first: a shared name, a shared tag
    (or a tag an interest names), a topic word both items' tag names hold, then (English only) a
    shared content word. A reply may say any of them: each is true of both."""
    found = [Link(name, "name")] if (name := _shared_name(candidate.title, anchor.text)) else []
    for tag in (candidate.subcategory, candidate.category):
        term = _tag_term(tag, language)
        if term and tag in anchor.tags:
            found.append(Link(term, "tag"))
        if term and anchor.kind == "interest" and (word := _shared_word(term, anchor.text)):
            found.append(Link(word, "tag"))  # "baseball" of an interest, for an item tagged "MLB baseball"
    if word := _shared_tag_word(candidate, anchor, language):
        found.append(Link(word, "tag"))
    # a shared Chinese word is too often a part of a name jieba does not know ("花园" of
    # "迈阿密花园", Miami Gardens) or a word of no topic ("许多", many): names and tags only
    if language != "zh" and (word := _shared_word(candidate.title, anchor.text)):
        found.append(Link(word, "word"))
    return found


def link_between(candidate: News, anchor: Anchor, language: str) -> Link | None:
    """The link an explanation of `candidate` through `anchor` states (`links_between`'s first); None when none."""
    return next(iter(links_between(candidate, anchor, language)), None)
