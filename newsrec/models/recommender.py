"""The news recommender: user encoder, interest scorer and popularity term.

score(n, u) = scale * r(n, u) + g(pop(n, t))
            = item_vector(n) . query_vector(u),  item = [n, g(pop(n, t))],  query = [scale W I(u), 1]

- r(n, u) = V(n)^T W I(u), the bilinear interest model with W = I + delta: delta starts at
  zero (an untrained model ranks by cosine) and weight decay pulls it back there, which
  keeps the pretrained geometry when clicks are few; or the plain dot product V(n)^T I(u);
- I(u) comes from a user encoder over the clicked-news vectors; a user with no history gets
  a learned prior vector;
- g is a small MLP over the news item's popularity features at the moment t of scoring
  (data/popularity.py: decayed log clicks and views, CTR logit, log age, a has-log flag):
  popularity and freshness, learned from the clicks as they stood at each training
  impression, and served from the same counters as traffic arrives.

With several encoders side by side (`--encoder a+b`: news vectors [a(n), b(n)] / sqrt(M)),
each member has its own tower: user encoder, W and scale over its slice, and r(n, u) is the
sum of the towers' terms. That is an ensemble of one interest model per encoder, trained
together, and still one inner product.

The inner-product form is the one scoring path: training (`forward`), offline ranking and the
service's vector index all score with `item_vector` . `query_vector`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, cast, get_args

import torch
from pydantic import BaseModel, Field, field_validator
from torch import nn

from newsrec.data.popularity import POPULARITY_FEATURES
from newsrec.models.user_encoders import UserEncoderKind, build_user_encoder

__all__ = [
    "RecommenderSettings",
    "RecommenderConfig",
    "NewsRecommender",
    "InterestTower",
    "SCORERS",
    "InterestScorer",
    "TEXT_WEIGHT",
]

InterestScorer = Literal["bilinear", "dot"]
SCORERS: tuple[str, ...] = get_args(InterestScorer)
TEXT_WEIGHT = 0.3  # share of an interest text in the user vector when there is also history


class RecommenderSettings(BaseModel):
    """The recommender's settings, declared once: `TrainConfig` (flags, --set, config files) has
    them as its own fields, and `recommender_config` adds the encoder's dimensions to build it."""

    user_encoder: UserEncoderKind = Field(
        "nrms", description="mean of history, or NRMS multi-head + additive attention"
    )
    scorer: InterestScorer = Field("bilinear", description="bilinear V(n)^T (I + delta) I(u), or dot")
    heads: int = Field(4, ge=1, description="NRMS attention heads")
    use_popularity: bool = Field(True, description="learned term over each item's clicks, views and CTR")
    initial_scale: list[float] = Field(
        [4.0],
        min_length=1,
        description="scale of the interest cosines at the start, one for all encoders or one per member of a+b; "
        "higher where news vectors sit close together (multilingual-e5-small: 20)",
    )

    def recommender_config(self, dim: int, member_dims: list[int] | None = None) -> RecommenderConfig:
        """These settings for an encoder of `dim` dimensions (split into `member_dims`, one tower each)."""
        settings = {name: getattr(self, name) for name in RecommenderSettings.model_fields}
        return RecommenderConfig(**settings, dim=dim, member_dims=member_dims)


class RecommenderConfig(RecommenderSettings):
    """What a `NewsRecommender` is built from, saved in model.pt: the settings plus the encoder's dimensions."""

    dim: int = 384
    member_dims: list[int] | None = None  # the encoders' slices of `dim`, one tower each; None: one

    @field_validator("initial_scale", mode="before")
    @classmethod
    def _one_number(cls, value: Any) -> Any:
        """Reads a scale saved as one number, as models once saved it."""
        return [value] if isinstance(value, int | float) else value

    def to_dict(self) -> dict:
        return self.model_dump()

    @property
    def towers(self) -> list[tuple[int, float]]:
        """(dim, initial scale) of each tower."""
        dims = self.member_dims or [self.dim]
        scales = self.initial_scale * len(dims) if len(self.initial_scale) == 1 else self.initial_scale
        if sum(dims) != self.dim or len(scales) != len(dims):
            raise ValueError(f"towers {dims} with scales {scales} do not split {self.dim} dimensions")
        return list(zip(dims, scales))


class InterestTower(nn.Module):
    """The interest model over one encoder's vectors: a user encoder, W = I + delta (or the plain
    dot product) and the scale of its cosines."""

    def __init__(self, dim: int, config: RecommenderConfig, initial_scale: float):
        super().__init__()
        self.user_encoder = build_user_encoder(config.user_encoder, dim, config.heads)
        self.bilinear_delta = nn.Parameter(torch.zeros(dim, dim)) if config.scorer == "bilinear" else None
        # cosines live in [-1, 1] and logits need range; log-parametrised so Adam moves it by ratios
        self.log_scale = nn.Parameter(torch.tensor(math.log(initial_scale)))

    def user_vector(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, H, d) clicked-news vectors, (B, H) mask -> (B, d) unit interest vectors."""
        return nn.functional.normalize(self.user_encoder(history, mask), dim=-1)

    def apply_w(self, x: torch.Tensor) -> torch.Tensor:
        """W x = (I + delta) x for each row of x (..., d); x itself for the dot scorer."""
        return x + x @ self.bilinear_delta.T if self.bilinear_delta is not None else x


class NewsRecommender(nn.Module):
    def __init__(self, config: RecommenderConfig):
        super().__init__()
        if config.scorer not in SCORERS:
            raise ValueError(f"unknown scorer {config.scorer!r}: choose from {SCORERS}")
        self.config = config
        towers = config.towers
        self.towers = nn.ModuleList(InterestTower(dim, config, scale) for dim, scale in towers)
        self.dims = [dim for dim, _ in towers]
        self.empty_user = nn.Parameter(torch.zeros(config.dim))  # prior for users with no history
        self.popularity = (
            nn.Sequential(nn.Linear(POPULARITY_FEATURES, 16), nn.ReLU(), nn.Linear(16, 1))
            if config.use_popularity
            else None
        )

    def user_vector(
        self,
        history: torch.Tensor,
        mask: torch.Tensor,
        text: torch.Tensor | None = None,
        text_weight: float = TEXT_WEIGHT,
    ) -> torch.Tensor:
        """(B, H, D) clicked-news vectors, (B, H) mask -> (B, D) interest vectors.

        `text` (B, D) holds encoded interest texts (a profile, a "what I like"), zero rows for
        none: a user with no history is their text; with history the text is blended in
        with `text_weight`.
        """
        user = self._join([tower.user_vector(h, mask) for tower, h in self._by_tower(history)])  # unit, like news
        has_history = mask.any(1, keepdim=True)  # (B, 1)
        user = torch.where(has_history, user, self.empty_user.expand_as(user))
        if text is None:
            return user
        has_text = text.norm(dim=-1, keepdim=True) > 0
        blended = nn.functional.normalize((1 - text_weight) * user + text_weight * text, dim=-1)
        return torch.where(has_text, torch.where(has_history, blended, text), user)

    @property
    def item_dim(self) -> int:
        """Length of item and query vectors: what a vector index over items must hold."""
        return self.config.dim + 1

    def query_vector(self, user: torch.Tensor) -> torch.Tensor:
        """(..., D) interest vectors -> (..., D + 1) queries [scale W u, 1]."""
        # a tower's share of n . q is 1/M of its cosine (both sides are scaled by 1/sqrt(M)): M makes it whole
        m = len(self.towers)
        query = torch.cat([(tower.log_scale.exp() * m) * tower.apply_w(u) for tower, u in self._by_tower(user)], dim=-1)
        return torch.cat([query, query.new_ones(*query.shape[:-1], 1)], dim=-1)

    def item_vector(self, news: torch.Tensor, popularity: torch.Tensor) -> torch.Tensor:
        """(..., D) news vectors and (..., 5) popularity features -> (..., D + 1) items [n, g(pop)]."""
        return torch.cat([news, self.popularity_score(popularity).unsqueeze(-1).to(news.dtype)], dim=-1)

    def apply_w(self, x: torch.Tensor) -> torch.Tensor:
        """W x for each row of x (..., D): each tower's W on its slice."""
        return torch.cat([tower.apply_w(part) for tower, part in self._by_tower(x)], dim=-1)

    def popularity_score(self, features: torch.Tensor) -> torch.Tensor:
        """(..., 5) popularity features -> (...)."""
        if self.popularity is None:
            return features.new_zeros(features.shape[:-1])
        return self.popularity(features).squeeze(-1)

    def forward(
        self,
        candidates: torch.Tensor,
        history: torch.Tensor,
        mask: torch.Tensor,
        popularity: torch.Tensor,
        text: torch.Tensor | None = None,
        text_weight: float = TEXT_WEIGHT,
    ) -> torch.Tensor:
        """Scores (B, N) for candidates (B, N, D) of users with history (B, H, D), mask (B, H)."""
        query = self.query_vector(self.user_vector(history, mask, text, text_weight))  # (B, D + 1)
        return torch.einsum("bnd,bd->bn", self.item_vector(candidates, popularity), query)

    def _by_tower(self, x: torch.Tensor) -> list[tuple[InterestTower, torch.Tensor]]:
        """Each tower with its slice of x (..., D)."""
        return list(zip(cast(list[InterestTower], list(self.towers)), x.split(self.dims, dim=-1)))

    def _join(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """The towers' unit vectors side by side, as one unit vector (like the encoders' own)."""
        return torch.cat(parts, dim=-1) / math.sqrt(len(parts))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Also reads models saved before towers, whose one tower's weights had no "towers.0." prefix."""
        state = {
            (f"towers.0.{k}" if k.split(".")[0] in ("user_encoder", "bilinear_delta", "log_scale") else k): v
            for k, v in state_dict.items()
        }
        return super().load_state_dict(state, strict, assign)
