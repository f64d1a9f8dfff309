"""Which models serve: one, or several side by side on shares of the users (A/B).

A deployment is a list of arms, each a model folder with its version (the hash of its weights)
and a share of users. A user's arm is fixed by a stable hash of their id, so each user always
sees the same model while a deployment lasts. `POST /v1/admin/model` records a new deployment
in the database; every worker follows it, loads new models in the background and swaps when
they are ready, the old ones serving until then.

A model is proven before it serves (`load_checked`): it loads, is the version that was
deployed, encodes and scores a probe of news, computes the vectors the store holds under its
vector name, and that name fits the store. A deployment is recorded only after its models
passed in the worker that took the request; a worker that later fails to load one (a folder
changed or missing on another machine) keeps, or starts with, the newest deployment that does.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from newsrec.data.mind import News
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker
from newsrec.service.catalogue import Catalogue, as_news
from newsrec.store.models import VECTOR_ID_CHARS, NewsRow

__all__ = ["Arm", "ArmSpec", "DeploymentError", "arm_specs", "load_checked", "pick_arm", "user_point", "PROBE_SIZE"]

PROBE_SIZE = 8  # stored news a model encodes and scores before it may serve
PROBE_NEWS = [  # when the store holds none yet
    News("probe-1", "Local team wins the championship in overtime", "sports", "basketball"),
    News("probe-2", "Central bank raises interest rates again", "finance", "markets"),
]
SAME_VECTOR = 0.99  # cosine above which a stored vector is what the model computes (bf16 vs fp32: 0.9999+)


class DeploymentError(ValueError):
    """A model that cannot serve here; the message says why and what to do."""


@dataclass(frozen=True)
class ArmSpec:
    model_dir: str
    version: str
    share: float

    def as_dict(self) -> dict:
        return {"model_dir": self.model_dir, "version": self.version, "share": self.share}


@dataclass
class Arm:
    spec: ArmSpec
    ranker: Ranker
    catalogue: Catalogue

    @property
    def version(self) -> str:
        return self.spec.version


def user_point(user_id: str) -> float:
    """A user's fixed place in [0, 1), from a hash of their id."""
    return int(hashlib.sha256(user_id.encode()).hexdigest()[:8], 16) / 16**8


def pick_arm(arms: list[Arm], user_id: str) -> Arm:
    """The arm whose share covers this user's place (shares add up to 1; the last takes the rest)."""
    point, edge = user_point(user_id), 0.0
    for arm in arms:
        edge += arm.spec.share
        if point < edge:
            return arm
    return arms[-1]


def arm_specs(stored: str) -> list[ArmSpec]:
    """The arms of a deployment row (JSON)."""
    return [ArmSpec(a["model_dir"], a["version"], float(a["share"])) for a in json.loads(stored)]


def load_checked(
    spec: ArmSpec, stored: Sequence[NewsRow], cache: EmbeddingCache | None = None, ranker: Ranker | None = None
) -> Ranker:
    """The model of `spec` (or `ranker`, already loaded from it), proven able to serve.

    `stored`: a few news rows of the store, the probe. A missing folder raises FileNotFoundError;
    anything else that stops the model from serving raises DeploymentError.
    """
    if ranker is None:
        ranker = _load(spec.model_dir, cache)
    if spec.version and ranker.version != spec.version:
        raise DeploymentError(
            f"{spec.model_dir} holds version {ranker.version}, not the deployed {spec.version}: "
            "its model.pt changed since; deploy the folder again"
        )
    if len(ranker.vector_id) > VECTOR_ID_CHARS:
        raise DeploymentError(
            f"this model's vector name is {len(ranker.vector_id)} characters, over the store's {VECTOR_ID_CHARS}: "
            "load its encoder from a shorter path"
        )
    news = [as_news(row) for row in stored] or PROBE_NEWS
    try:
        vectors = ranker.encode_news(news, cache)
        scores = _probe_scores(ranker, news, vectors)
    except Exception as e:  # whatever breaks, it breaks here and not in a worker serving users
        raise DeploymentError(f"{spec.model_dir} fails to score news: {type(e).__name__}: {str(e)[:200]}") from None
    if not np.isfinite(scores).all():
        raise DeploymentError(f"{spec.model_dir} gives scores that are not numbers: train it again")
    for row, vector in zip(stored, vectors):
        if row.encoder_id == ranker.vector_id and not _same_vector(np.frombuffer(row.vector, np.float32), vector):
            raise DeploymentError(
                f"news stored under this model's vector name ({ranker.vector_id}) differ from the vectors "
                f"it computes (news {row.news_id}): its encoder changed; give its folder a new name"
            )
    return ranker


def _load(model_dir: str, cache: EmbeddingCache | None) -> Ranker:
    try:
        return Ranker.load(model_dir, {}, cache)
    except FileNotFoundError:
        raise
    except Exception as e:  # a corrupt model.pt, an unknown encoder, shapes of another model ...
        raise DeploymentError(
            f"{model_dir} does not load as a newsrec model ({type(e).__name__}): train it with `newsrec train`"
        ) from None


@torch.no_grad()
def _probe_scores(ranker: Ranker, news: list[News], vectors: np.ndarray) -> np.ndarray:
    """Scores of the probe news for a reader of all of them, by the model's serving path."""
    model, items = ranker.model, torch.from_numpy(vectors)
    features = torch.from_numpy(ranker.popularity.features([n.news_id for n in news], time.time()))
    user = model.user_vector(items[None], torch.ones(1, len(news), dtype=torch.bool))
    return (model.item_vector(items, features) @ model.query_vector(user)[0]).numpy()


def _same_vector(stored: np.ndarray, computed: np.ndarray) -> bool:
    if stored.shape != computed.shape:
        return False
    norms = float(np.linalg.norm(stored) * np.linalg.norm(computed))
    return norms > 0 and float(stored @ computed) / norms >= SAME_VECTOR
