"""What links a recommended story to what the reader read or said: the fact an explanation states.

A link is true of each side on its own: a name both texts hold ("Joe Girardi"), the
subcategory or category both items carry ("NFL football"), or a content word both titles use
("hurricane"). Saying "both are about Joe Girardi" joins no facts across sources, so an
explanation may say it; a link found in only one of them is never offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from newsrec.data.categories import NAMES, tag_name
from newsrec.data.language import fold, words
from newsrec.data.mind import News
from newsrec.llm.claims import facts, holds, is_title_case
from newsrec.llm.grounding import FUNCTION_WORDS
from newsrec.models.reason import content_words

__all__ = ["Link", "Anchor", "link_between"]


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


def _names(text: str) -> tuple[set[str], set[str]]:
    """(sure, unsure) names of `text`. Sure: runs of capitalised words that do not open it
    ("Willie Brown", not "Willie"). Unsure: a run with the capital that opens the text ("Joe
    Girardi's first words", but also "Indicted Giuliani associate"), and in a Title Case text,
    where capitals mark no name, every part of every run."""
    if is_title_case(text):
        return set(), _runs(facts(text, opening=False), parts=True)
    sure = _runs(facts(text), parts=False)
    return sure, _runs(facts(text, opening=False), parts=False) - sure


def _shared_name(candidate: str, anchor: str) -> str | None:
    """The longest name both texts write, capitals and all, as it stands in each ("Cupcake
    McKinney" of "'Cupcake' McKinney" is not), and sure in at least one of them (`_names`): an
    opening capital or a Title Case title alone does not make a name ("Indicted Giuliani")."""
    (sure_c, unsure_c), (sure_a, unsure_a) = _names(candidate), _names(anchor)
    shared = (sure_c & (sure_a | unsure_a)) | (unsure_c & sure_a)
    shared = {n for n in shared if holds(fold(candidate), n) and holds(fold(anchor), n)}
    # ties go to the name said later in the story's title: a title opens with its label ("The Latest:
    # ... Brexit"), and a set's order would follow the process's string hashing
    return max(shared, key=lambda n: (len(n.split()), len(n), fold(candidate).rfind(fold(n)), n), default=None)


def _shared_word(candidate: str, anchor: str) -> str | None:
    """The longest content word both titles hold, as the candidate writes it: whole words, not
    the parts jieba finds inside them ("克尔" of "马克尔" and "迈克尔" is no link)."""
    common = content_words(candidate, inside=False) & content_words(anchor, inside=False)
    written = [w.strip(".,:;!?'\"()“”") for w in words(candidate)]
    return max((w for w in written if fold(w) in common), key=len, default=None)


def link_between(candidate: News, anchor: Anchor, language: str) -> Link | None:
    """What links `candidate` to `anchor`: a shared name, then a shared tag (or a tag an
    interest names), then (English only) a shared content word; None when they share none."""
    if name := _shared_name(candidate.title, anchor.text):
        return Link(name, "name")
    for tag in (candidate.subcategory, candidate.category):
        term = tag_name(tag, language) if tag.lower() in NAMES or language == "zh" else None  # not "movievideo"
        if term and tag in anchor.tags:
            return Link(term, "tag")
        if term and anchor.kind == "interest" and (word := _shared_word(term, anchor.text)):
            return Link(word, "tag")  # "baseball" of an interest, for an item tagged "MLB baseball"
    # a shared Chinese word is too often a part of a name jieba does not know ("花园" of
    # "迈阿密花园", Miami Gardens) or a word of no topic ("许多", many): names and tags only
    if language != "zh" and (word := _shared_word(candidate.title, anchor.text)):
        return Link(word, "word")
    return None
