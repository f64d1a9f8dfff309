"""Padded tensors for a batch of (history, candidates) rows, shared by training and scoring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from newsrec.data.popularity import POPULARITY_FEATURES
from newsrec.encoders.news_table import PAD, NewsTable

__all__ = ["Batch", "Row", "make_batch", "table_rows_batch"]


@dataclass
class Row:
    """One user's history and the candidates to score, with the candidates' popularity features
    (N, 5) as they stood at that moment (`Popularity.features`); None gives zeros."""

    history: list[str]
    candidates: list[str]
    popularity: np.ndarray | None = None


@dataclass
class Batch:
    candidates: torch.Tensor  # (B, N) news-table rows, PAD where padded or unknown
    candidate_mask: torch.Tensor  # (B, N) True for a real candidate with text
    history: torch.Tensor  # (B, H) news-table rows of the most recent clicks
    history_mask: torch.Tensor  # (B, H)
    popularity: torch.Tensor  # (B, N, 5) popularity features

    def vectors(self, table: NewsTable) -> tuple[torch.Tensor, torch.Tensor]:
        """Look up candidate (B, N, D) and history (B, H, D) vectors (on the table's device)."""
        return table.vectors[self.candidates], table.vectors[self.history]

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            *(
                t.to(device)
                for t in (self.candidates, self.candidate_mask, self.history, self.history_mask, self.popularity)
            )
        )


def make_batch(rows: list[Row], table: NewsTable, max_history: int) -> Batch:
    """Rows of news ids, looked up in the table (ids it lacks become PAD)."""
    pop = [r.popularity for r in rows]
    return table_rows_batch(
        [table.rows(r.history) for r in rows], [table.rows(r.candidates) for r in rows], pop, max_history
    )


def table_rows_batch(
    histories: Sequence[Sequence[int] | np.ndarray],
    candidates: Sequence[Sequence[int] | np.ndarray],
    popularity: Sequence[np.ndarray | None] | np.ndarray,
    max_history: int,
) -> Batch:
    """The batch of rows given as table rows: each history's last `max_history` known items
    (PAD entries left out), candidates padded to the longest, their (N, 5) popularity."""
    n = max(1, max(len(c) for c in candidates))
    kept = [[row for row in h if row != PAD][-max_history:] for h in histories]
    h = max(1, max(len(x) for x in kept))
    cand = np.full((len(candidates), n), PAD, dtype=np.int64)
    hist = np.full((len(candidates), h), PAD, dtype=np.int64)
    pop = np.zeros((len(candidates), n, POPULARITY_FEATURES), dtype=np.float32)
    for i, (c, rows_h, p) in enumerate(zip(candidates, kept, popularity)):
        cand[i, : len(c)] = c
        hist[i, : len(rows_h)] = rows_h
        if p is not None:
            pop[i, : len(c)] = p
    cand_t, hist_t = torch.from_numpy(cand), torch.from_numpy(hist)
    return Batch(cand_t, cand_t != PAD, hist_t, hist_t != PAD, torch.from_numpy(pop))
