"""A table of news vectors: news id -> row of an embedding matrix.

Row 0 is all zeros and stands for padding and for ids that have no text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from newsrec.data.mind import News
from newsrec.encoders.base import Encoder
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.plm import encode_texts
from newsrec.encoders.text import NewsText

__all__ = ["NewsTable", "PAD"]

PAD = 0


class NewsTable:
    """News vectors `(N + 1, D)` with row lookup by id.

    The rows live in a buffer with room to spare that doubles when full, so adding news one
    batch at a time (a service's catalogue) copies each vector a bounded number of times.
    """

    def __init__(self, ids: list[str], vectors: np.ndarray):
        self.ids = ids
        self.row = {news_id: i + 1 for i, news_id in enumerate(ids)}
        self._buffer = torch.from_numpy(np.vstack([np.zeros((1, vectors.shape[1]), np.float32), vectors]))

    @classmethod
    def over(cls, ids: list[str], buffer: np.ndarray) -> NewsTable:
        """A table over `buffer` as it is (no copy: a memory-mapped file stays shared): row 0 zeros,
        rows 1..len(ids) their vectors, the rest room for news added later."""
        table = cls.__new__(cls)
        table.ids, table.row = ids, {news_id: i + 1 for i, news_id in enumerate(ids)}
        table._buffer = torch.from_numpy(buffer)
        return table

    @property
    def vectors(self) -> torch.Tensor:
        """(N + 1, D): row 0 the zero vector, then one row per id."""
        return self._buffer[: len(self.ids) + 1]

    @classmethod
    def encode(
        cls,
        news: dict[str, News],
        encoder: Encoder,
        text: NewsText | Sequence[str],
        cache: EmbeddingCache | None = None,
        batch_size: int = 64,
    ) -> NewsTable:
        """Vectors of `news` through the cache; `text` builds each item's text (or names its fields)."""
        text = text if isinstance(text, NewsText) else NewsText(tuple(text))
        ids = list(news)
        texts = [text(news[i]) for i in ids]
        return cls(ids, encode_texts(encoder, texts, cache, batch_size))

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Replace the rows of known ids in place and append new ones."""
        new: dict[str, np.ndarray] = {}  # a new id given twice: the last vector wins
        for news_id, vector in zip(ids, vectors):
            row = self.row.get(news_id)
            if row is None:
                new[news_id] = vector
            else:
                self._buffer[row] = torch.from_numpy(np.asarray(vector, np.float32))
        if not new:
            return
        first, needed = len(self.ids) + 1, len(self.ids) + 1 + len(new)
        if needed > len(self._buffer):  # double the room: amortised O(1) copies per vector
            grown = torch.zeros(max(needed, 2 * len(self._buffer)), self._buffer.shape[1])
            grown[:first] = self._buffer[:first]
            self._buffer = grown
        self._buffer[first:needed] = torch.from_numpy(np.stack(list(new.values())).astype(np.float32))
        self.row.update((news_id, first + i) for i, news_id in enumerate(new))
        self.ids.extend(new)

    def rows(self, news_ids: Sequence[str]) -> list[int]:
        """Row of each id; PAD for ids the table does not hold."""
        return [self.row.get(i, PAD) for i in news_ids]

    def __contains__(self, news_id: str) -> bool:
        return news_id in self.row

    def __len__(self) -> int:
        return len(self.ids)
