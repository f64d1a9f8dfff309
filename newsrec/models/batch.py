"""Padded tensors for a batch of (history, candidates) rows, shared by training and scoring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from newsrec.data.popularity import POPULARITY_FEATURES
from newsrec.encoders.news_table import PAD, NewsTable

__all__ = ["Batch", "Row", "make_batch"]


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
        """Look up candidate (B, N, D) and history (B, H, D) vectors."""
        return table.vectors[self.candidates], table.vectors[self.history]


def make_batch(rows: list[Row], table: NewsTable, max_history: int) -> Batch:
    n = max(1, max(len(r.candidates) for r in rows))
    histories = [[row for row in table.rows(r.history) if row != PAD][-max_history:] for r in rows]
    h = max(1, max(len(x) for x in histories))
    cand = np.full((len(rows), n), PAD, dtype=np.int64)
    hist = np.full((len(rows), h), PAD, dtype=np.int64)
    pop = np.zeros((len(rows), n, POPULARITY_FEATURES), dtype=np.float32)
    for i, (r, rows_h) in enumerate(zip(rows, histories)):
        cand[i, : len(r.candidates)] = table.rows(r.candidates)
        hist[i, : len(rows_h)] = rows_h
        if r.popularity is not None:
            pop[i, : len(r.candidates)] = r.popularity
    cand_t, hist_t = torch.from_numpy(cand), torch.from_numpy(hist)
    return Batch(cand_t, cand_t != PAD, hist_t, hist_t != PAD, torch.from_numpy(pop))
