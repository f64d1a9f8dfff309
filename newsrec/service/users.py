"""A user as one worker holds them: history and what they have seen, built from their events,
and the query each served model derives from that (recomputed only after a change)."""

from __future__ import annotations

from collections import deque
from collections.abc import Container, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from newsrec.encoders.news_table import NewsTable
from newsrec.models.batch import Row, make_batch
from newsrec.models.ranker import Ranker
from newsrec.models.reason import Reason, interest_topics, reasons_from_matches
from newsrec.store.models import POSITIVE_EVENTS, EventRow

__all__ = ["UserQuery", "UserState", "user_query", "COMMENTS_KEPT"]

COMMENTS_KEPT = 3  # latest comment texts that join the user's interest text


@dataclass
class UserQuery:
    """What a model derives from a user's state: the query vector and the facts behind explanations."""

    vector: np.ndarray  # (D + 1,) the model's query_vector
    history: list[str]  # the history it was computed from, aligned with history_directions
    history_directions: np.ndarray  # (H, D) W h for each history item: n . (W h) is how much h explains n
    topics: list[str]  # interest topics from the user's own words
    topic_vectors: np.ndarray | None  # (T, D)

    def reasons(self, table: NewsTable, news_ids: Sequence[str], popularity: Sequence[float]) -> list[Reason]:
        """The facts behind recommending each of these news (vectors in `table`) to this user
        (`reasons_from_matches`)."""
        candidates = table.vectors.numpy()[table.rows(news_ids)]
        directions = self.history_directions[: len(self.history)]
        return reasons_from_matches(candidates, self.history, directions, popularity, self.topics, self.topic_vectors)


@dataclass
class UserState:
    key: str  # keyed hash of the user id, as deletion tombstones name it
    last_seq: int = 0  # the newest event applied
    history: deque = field(default_factory=deque)  # positive news ids, oldest first, at most max_history
    seen: set = field(default_factory=set)  # every news id the user had an event on: never recommended
    comments: deque = field(default_factory=lambda: deque(maxlen=COMMENTS_KEPT))
    interests: str | None = None
    queries: dict[str, UserQuery] = field(default_factory=dict)  # per model version; cleared on any change

    def apply(self, event: EventRow, known_news: Container[str], max_history: int) -> None:
        """One event, once (by its seq); positive events on known news join the history."""
        if event.seq <= self.last_seq:
            return
        self.seen.add(event.news_id)
        if event.type in POSITIVE_EVENTS and event.news_id in known_news:
            if event.news_id in self.history:
                self.history.remove(event.news_id)
            self.history.append(event.news_id)
            while len(self.history) > max_history:
                self.history.popleft()
        if event.type == "comment" and event.text:
            self.comments.append(event.text)
        self.last_seq = event.seq
        self.queries.clear()

    def set_interests(self, interests: str | None) -> None:
        if interests != self.interests:
            self.interests = interests
            self.queries.clear()


@torch.no_grad()
def user_query(ranker: Ranker, table: NewsTable, state: UserState) -> UserQuery:
    """The model's query for this user state, with the news vectors of `table` (the model's
    catalogue); cached per model version on the state."""
    if ranker.version in state.queries:
        return state.queries[ranker.version]
    model = ranker.model
    history_ids = list(state.history)
    batch = make_batch([Row(history_ids, [])], table, ranker.spec.max_history)
    _, history = batch.vectors(table)
    kept = [table.ids[r - 1] for r in batch.history[0][batch.history_mask[0]].tolist()]
    text = " ".join([state.interests or "", *state.comments]).strip()
    text_vector = ranker.encode_texts([text]) if text else None
    user = model.user_vector(history, batch.history_mask, text_vector)
    topics = interest_topics(state.interests or "")
    query = UserQuery(
        model.query_vector(user)[0].numpy(),
        kept,
        model.apply_w(history[0]).numpy(),
        topics,
        ranker.encode_texts(topics).numpy() if topics else None,
    )
    state.queries[ranker.version] = query
    return query
