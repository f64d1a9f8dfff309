"""Why an item was recommended: the facts the model computed, and a sentence stating them.

A leaf module: the ranker, the service and the LLM explainer all build and read `Reason`s
through `reason_from_matches`, so an offline explanation and a served one say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from newsrec.data.mind import News

__all__ = ["Reason", "reason_from_matches", "interest_topics", "WEAK_MATCH", "TOP_FACTS", "POPULAR"]

WEAK_MATCH = 0.1  # below this cosine-like match an explanation would claim a link that is not there
TOP_FACTS = 2  # matched history items and topics kept per recommendation
POPULAR = 0.5  # popularity term above which "popular with readers" is said
MAX_TOPIC_CHARS = 60


@dataclass
class Reason:
    """The facts behind one recommendation: what matched it, and how strongly."""

    matched: list[tuple[str, float]]  # (history news id, match score), strongest first
    popularity: float  # the popularity term's part of the score
    topics: list[tuple[str, float]] = field(default_factory=list)  # (interest topic, cosine), strongest first

    def sentence(self, news: Mapping[str, News]) -> str:
        """A template sentence stating these facts (no LLM needed); weak matches are not claimed."""
        popular = " and it is popular with readers" if self.popularity > POPULAR else ""
        strongest = max([s for _, s in self.matched + self.topics], default=0.0)
        if strongest < WEAK_MATCH:
            return "Popular with readers right now." if popular else "Something beyond your usual reading."
        if self.topics and (not self.matched or self.topics[0][1] > self.matched[0][1]):
            topic, strength = self.topics[0]
            return f'Matches your interest "{topic}" (match {strength:.2f}){popular}.'
        news_id, strength = self.matched[0]
        title = news[news_id].title if news_id in news else news_id
        return f'Because you read "{title}" (match {strength:.2f}){popular}.'


def _strongest(names: Sequence[str], scores: np.ndarray, top: int) -> list[tuple[str, float]]:
    order = np.argsort(-scores, kind="stable")[:top]
    return [(names[i], float(scores[i])) for i in order]


def reason_from_matches(
    history: Sequence[str],
    history_match: np.ndarray,
    popularity: float,
    topics: Sequence[str] = (),
    topic_match: np.ndarray | None = None,
    top: int = TOP_FACTS,
) -> Reason:
    """The one rule for explanation facts: the `top` strongest history items and topics.

    `history_match` (H,) holds n . (W h) for each history item h, `topic_match` (T,) the
    cosine of each interest topic to the candidate n.
    """
    topic_facts = _strongest(topics, topic_match, top) if topics and topic_match is not None else []
    return Reason(_strongest(history, history_match, top), popularity, topic_facts)


def interest_topics(text: str) -> list[str]:
    """A user's interest text split into short topics: "I follow the NBA and electric cars"
    -> ["I follow the NBA", "electric cars"]; each topic is matched against candidates."""
    parts = re.split(r",|;|\n|\band\b", text)
    return list(dict.fromkeys(p.strip()[:MAX_TOPIC_CHARS] for p in parts if p.strip()))
