"""Why an item was recommended: the facts the model computed, and a sentence stating them.

A leaf module: the ranker, the service and the LLM explainer all build and read `Reason`s
through `reason_from_matches`, so an offline explanation and a served one say the same thing.
Texts are compared in Simplified script (a reader typing Simplified meets news in Traditional)
and by words (`language.words`: jieba for Chinese, spaces for English).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from newsrec.data.language import (
    STOP_WORDS_ZH,
    detect_language,
    fold,
    is_chinese,
    is_han,
    join_words,
    script_of,
    to_simplified,
    words,
)
from newsrec.data.mind import News

__all__ = [
    "Reason",
    "reason_from_matches",
    "reasons_from_matches",
    "interest_topics",
    "content_words",
    "mentions",
    "WEAK_MATCH",
    "TOP_FACTS",
    "STRONG_FACTS",
    "POPULAR",
]

# A match is a cosine in the model's space (-1 to 1): of the candidate n and W h for a read item h
# (the direction in which h pulls the user's score), or of n and an interest topic's text vector.
# Below WEAK_MATCH an explanation would claim a link that is not there.
WEAK_MATCH = 0.3
TOP_FACTS = 2  # matched history items and topics kept per recommendation, however weak
STRONG_FACTS = 20  # and beyond them, the strong ones (WEAK_MATCH or more), up to this many in all
POPULAR = 0.5  # popularity term above which "popular with readers" is said
MAX_TOPIC_CHARS = 60
_TOPIC_BREAK_ZH = re.compile(r"[,;，；、。!?！？\n]")
# conjunctions between topics, matched as whole words so that "和平" (peace) is not cut at "和"
_AND_ZH = frozenset({"和", "与", "與", "及", "以及", "跟", "还有", "還有", "或", "或者"})
_PUNCTUATION = ".,:;!?'\"()"


@dataclass
class Reason:
    """The facts behind one recommendation: what matched it, and how strongly."""

    matched: list[tuple[str, float]]  # (history news id, match score), strongest first
    popularity: float  # the popularity term's part of the score
    topics: list[tuple[str, float]] = field(default_factory=list)  # (interest topic, cosine), strongest first
    # all the reader's topics: their language decides a topic sentence's ("NBA" from "我喜欢篮球和NBA" is Chinese)
    topics_text: str = ""

    def sentence(self, news: Mapping[str, News], candidate_title: str = "") -> str:
        """A template sentence stating these facts (no LLM needed); weak matches are not claimed.

        Written in the language and script of what it quotes: the title read, or the reader's own
        words (all their topics, so a Latin-only topic of a Chinese reader gets Chinese); with
        nothing to quote, in those of the recommended item's title."""
        strongest = max([s for _, s in self.matched + self.topics], default=0.0)
        popular = self.popularity > POPULAR
        if strongest < WEAK_MATCH:  # nothing to quote: written like the item's title
            # no history and no interests: the ranker had its prior for new readers, not a "usual reading"
            unknown_reader = not self.matched and not self.topics
            gist = "popular_only" if popular else "new_reader" if unknown_reader else "beyond"
            source, strength, parts = candidate_title, 0.0, [gist]
        else:
            if self.topics and (not self.matched or self.topics[0][1] > self.matched[0][1]):
                kind, (source, strength) = "topic", self.topics[0]
            else:
                news_id, strength = self.matched[0]
                kind, source = "read", news[news_id].title if news_id in news else news_id
            parts = [kind, *(["popular"] if popular else []), "end"]
        writing = (self.topics_text or source) if parts[0] == "topic" else source
        say = _SENTENCES[detect_language(writing)]
        sentence = "".join(say[p] for p in parts).format(source, strength)
        # the Chinese templates are Traditional: a Simplified source gets a Simplified sentence
        return to_simplified(sentence) if script_of(writing) == "simplified" else sentence


_SENTENCES = {
    "en": {
        "read": 'Because you read "{}" (match {:.2f})',
        "topic": 'Matches your interest "{}" (match {:.2f})',
        "popular": " and it is popular with readers",
        "end": ".",
        "popular_only": "Popular with readers right now.",
        "beyond": "Something beyond your usual reading.",
        "new_reader": "Picked for new readers: you have no reading history yet.",
    },
    "zh": {
        "read": "因為你讀過「{}」（相符度 {:.2f}）",
        "topic": "符合你的興趣「{}」（相符度 {:.2f}）",
        "popular": "，而且很受讀者歡迎",
        "end": "。",
        "popular_only": "這則新聞現在很受讀者歡迎。",
        "beyond": "你平常閱讀範圍以外的新聞。",
        "new_reader": "為新讀者挑選的新聞：你還沒有閱讀紀錄。",
    },
}


def _strongest(names: Sequence[str], scores: np.ndarray, top: int) -> list[tuple[str, float]]:
    """The `top` strongest matches, then the other strong ones (`STRONG_FACTS` in all): an
    explanation states a link the story shares with one of them, and the two strongest often
    share none (the ranker's pull is no shared name or topic)."""
    order = np.argsort(-scores, kind="stable")[: max(top, STRONG_FACTS)]
    return [(names[i], float(scores[i])) for n, i in enumerate(order) if n < top or scores[i] >= WEAK_MATCH]


def cosines(vectors: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(C, K) the cosine of each candidate (C, D) with each row of `vectors` (K, D); 0 for a zero vector."""
    norms = np.linalg.norm(candidates, axis=1)[:, None] * np.linalg.norm(vectors, axis=1)
    return np.divide(candidates @ vectors.T, norms, out=np.zeros(norms.shape, np.float32), where=norms > 0)


def reason_from_matches(
    candidate: np.ndarray,
    history: Sequence[str],
    history_directions: np.ndarray,
    popularity: float,
    topics: Sequence[str] = (),
    topic_vectors: np.ndarray | None = None,
    top: int = TOP_FACTS,
) -> Reason:
    """The one rule for explanation facts: the `top` strongest history items and topics.

    `candidate` (D,) is the candidate's vector n, `history_directions` (H, D) holds W h for each
    history item h, `topic_vectors` (T, D) each interest topic's text vector; the strength of a
    fact is its cosine with n (see WEAK_MATCH).
    """
    facts = reasons_from_matches(candidate[None], history, history_directions, [popularity], topics, topic_vectors, top)
    return facts[0]


def reasons_from_matches(
    candidates: np.ndarray,
    history: Sequence[str],
    history_directions: np.ndarray,
    popularity: Sequence[float],
    topics: Sequence[str] = (),
    topic_vectors: np.ndarray | None = None,
    top: int = TOP_FACTS,
) -> list[Reason]:
    """`reason_from_matches` for each of several candidates (C, D) of one reader, in one product."""
    read = cosines(history_directions, candidates) if len(history) else None
    liked = cosines(topic_vectors, candidates) if topics and topic_vectors is not None else None
    return [
        Reason(
            _strongest(history, read[c], top) if read is not None else [],
            pop,
            _strongest(topics, liked[c], top) if liked is not None else [],
            " ".join(topics),
        )
        for c, pop in enumerate(popularity)
    ]


def interest_topics(text: str) -> list[str]:
    """A user's interest text split into short topics: "I follow the NBA and electric cars"
    -> ["I follow the NBA", "electric cars"], "我关注NBA和电动车" -> ["我关注NBA", "电动车"];
    each topic is matched against candidates."""
    if is_chinese(text):
        parts = [topic for part in _TOPIC_BREAK_ZH.split(text) for topic in _split_at_and(part)]
    else:
        parts = re.split(r",|;|\n|\band\b", text)
    return list(dict.fromkeys(p.strip()[:MAX_TOPIC_CHARS] for p in parts if p.strip()))


def _split_at_and(text: str) -> list[str]:
    """Chinese text cut at its conjunction words (segmented, so a word like "和平" is not cut)."""
    groups: list[list[str]] = [[]]
    for word in words(text):
        if word in _AND_ZH:
            groups.append([])
        else:
            groups[-1].append(word)
    return [join_words(g, text) for g in groups if g]


def content_words(text: str, inside: bool = True) -> set[str]:
    """The words of `text` that carry its topic, in Simplified script and lower case: Chinese
    words of two or more characters that are not stop words (with `inside`, the words inside
    long ones too: "篮球比赛" gives "篮球"), other words of five or more letters (shorter English
    words are mostly function words)."""
    out = set()
    for word in words(fold(text), search=inside):
        word = word.strip(_PUNCTUATION)
        if (len(word) > 1 and word not in STOP_WORDS_ZH) if is_han(word) else len(word) > 4:
            out.add(word)
    return out


def mentions(text: str, anchor: str) -> bool:
    """Whether `text` names `anchor` (a matched title or interest topic) or shares a content
    word with it, whichever script each is written in: the test of a grounded explanation."""
    said = fold(text)
    return fold(anchor).strip() in said or any(w in said for w in content_words(anchor))
