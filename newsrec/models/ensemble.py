"""Ensembles of trained models (e.g. one per encoder), fused per impression.

Each member's scores are standardised within the impression (z-scores: members' scales
differ), then fused:
- `mean`: the plain average;
- `weights`: a weighted average, weights searched on a grid over the simplex for the best
  mean AUC on the impressions given to `fit_ensemble`;
- `learned`: a small layer (members -> 8 -> 1) trained with softmax cross-entropy of the
  clicks among each impression's candidates.

An ensemble folder holds ensemble.json (member folders, fusion, weights) and fusion.pt for
the learned layer; `load_scorer` opens either a model or an ensemble folder, so `newsrec
evaluate` and `predict` take both.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from newsrec.data.mind import Impression, News
from newsrec.data.popularity import Popularity
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import NewsTable
from newsrec.evaluation.metrics import auc, judgeable
from newsrec.evaluation.scorer import Scorer
from newsrec.models.ranker import Ranker

__all__ = ["FUSIONS", "Ensemble", "fit_ensemble", "load_scorer", "ENSEMBLE_FILE"]

FUSIONS = ("mean", "weights", "learned")
ENSEMBLE_FILE, FUSION_FILE = "ensemble.json", "fusion.pt"


def _standardise(scores: list[np.ndarray]) -> np.ndarray:
    """Member scores of one impression (M, N) -> z-scores per member."""
    s = np.stack(scores).astype(np.float64)
    return (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-9)


class FusionLayer(nn.Module):
    def __init__(self, members: int, hidden: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(members, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(N, M) member z-scores -> (N,) fused scores."""
        return self.net(z).squeeze(-1)


class Ensemble:
    """A `Scorer` over several Rankers trained on the same logs (one per encoder, say)."""

    def __init__(
        self,
        members: list[Ranker],
        member_dirs: list[str],
        fusion: str,
        weights: np.ndarray | None = None,
        layer: FusionLayer | None = None,
    ):
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}: choose from {FUSIONS}")
        self.members, self.member_dirs, self.fusion = members, member_dirs, fusion
        self.weights = weights if weights is not None else np.full(len(members), 1 / len(members))
        self.layer = layer

    @property
    def popularity(self) -> Popularity:
        """The members were trained on the same logs, so their counts are the same: the first's."""
        return self.members[0].popularity

    def zero_shot_table(self, news: dict[str, News], cache: EmbeddingCache | None = None) -> NewsTable:
        """The first member's pretrained encoder stands for the zero-shot baseline."""
        return self.members[0].zero_shot_table(news, cache)

    def member_scores(self, impressions: Sequence[Impression]) -> list[np.ndarray]:
        """Per impression, the (M, N) z-scored member scores."""
        per_member = [m.score(impressions) for m in self.members]
        return [_standardise([s[i] for s in per_member]) for i in range(len(impressions))]

    def fuse(self, z: np.ndarray) -> np.ndarray:
        if self.fusion == "learned":
            assert self.layer is not None, "a learned fusion has its layer"
            with torch.no_grad():
                return self.layer(torch.from_numpy(z.T).float()).numpy()
        return self.weights @ z

    def score(self, impressions: Sequence[Impression]) -> list[np.ndarray]:
        return [self.fuse(z) for z in self.member_scores(impressions)]

    def save(self, out_dir: str | Path) -> None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / ENSEMBLE_FILE).write_text(
            json.dumps({"members": self.member_dirs, "fusion": self.fusion, "weights": self.weights.tolist()}, indent=2)
        )
        if self.layer is not None:
            torch.save(self.layer.state_dict(), out_dir / FUSION_FILE)

    @classmethod
    def load(
        cls, ensemble_dir: str | Path, news: dict[str, News], cache: EmbeddingCache | None = None, device: str = "cpu"
    ) -> Ensemble:
        ensemble_dir = Path(ensemble_dir)
        spec = json.loads((ensemble_dir / ENSEMBLE_FILE).read_text())
        members = [Ranker.load(d, news, cache, device) for d in spec["members"]]
        layer = None
        if spec["fusion"] == "learned":
            layer = FusionLayer(len(members))
            layer.load_state_dict(torch.load(ensemble_dir / FUSION_FILE, weights_only=True, map_location="cpu"))
        return cls(members, spec["members"], spec["fusion"], np.array(spec["weights"]), layer)


def _mean_auc(zs: list[np.ndarray], impressions: Sequence[Impression], weights: np.ndarray) -> float:
    """Mean AUC over the impressions with a click and a non-click (the others have none: skipped)."""
    judged = [(z, i.labels) for z, i in zip(zs, impressions) if i.labels and judgeable(i.labels)]
    if not judged:
        raise ValueError("no tuning impression has both a click and a non-click: give a labelled behaviors file")
    return float(np.mean([auc(labels, weights @ z) for z, labels in judged]))


def fit_ensemble(
    members: list[Ranker],
    member_dirs: list[str],
    fusion: str,
    impressions: Sequence[Impression],
    grid_step: float = 0.1,
    epochs: int = 200,
    seed: int = 0,
) -> Ensemble:
    """Fuse `members`, tuning weights or the fusion layer on labelled `impressions`."""
    ensemble = Ensemble(members, member_dirs, fusion)
    if fusion == "mean":
        return ensemble
    zs = ensemble.member_scores(impressions)
    if fusion == "weights":
        ticks = np.round(np.arange(0, 1 + 1e-9, grid_step), 6)
        grid = [np.array(w) for w in itertools.product(ticks, repeat=len(members)) if abs(sum(w) - 1) < 1e-6]
        ensemble.weights = max(grid, key=lambda w: _mean_auc(zs, impressions, w))
        return ensemble
    torch.manual_seed(seed)
    layer = FusionLayer(len(members))
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-2, weight_decay=1e-3)
    data = [(torch.from_numpy(z.T).float(), torch.tensor(i.labels, dtype=torch.bool)) for z, i in zip(zs, impressions)]
    for _ in range(epochs):
        optimizer.zero_grad()
        # each click against all candidates of its impression (listwise, as in training)
        loss = torch.stack([-(torch.log_softmax(layer(z), 0)[clicked]).mean() for z, clicked in data]).mean()
        loss.backward()
        optimizer.step()
    ensemble.layer = layer.eval()
    return ensemble


def load_scorer(
    model_dir: str | Path, news: dict[str, News], cache: EmbeddingCache | None = None, device: str = "cpu"
) -> Scorer:
    """A trained model folder or an ensemble folder, ready to score on `device`."""
    if (Path(model_dir) / ENSEMBLE_FILE).is_file():
        return Ensemble.load(model_dir, news, cache, device)
    return Ranker.load(model_dir, news, cache, device)
