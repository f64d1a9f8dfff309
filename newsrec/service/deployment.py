"""Which models serve: one, or several side by side on shares of the users (A/B).

A deployment is a list of arms, each a model folder with its version (the hash of its weights)
and a share of users. A user's arm is fixed by a stable hash of their id, so each user always
sees the same model while a deployment lasts. `POST /v1/admin/model` records a new deployment
in the database; every worker follows it, loads new models in the background and swaps when
they are ready, the old ones serving until then.

Workers load a deployed model from this machine's copy of its folder, named by the digest of its
files (`deployment_copies.py`): what is written to the folder after the deployment changes nothing.

A model is proven before it serves (`load_checked`): it loads, encodes and scores a probe of
news, computes the vectors the store holds under its vector name, and that name fits the store.
A deployment is recorded only after its models passed in the worker that took the request; a
worker that later fails to load one (on another machine, a folder changed or missing before it
was copied there) keeps, or starts with, the newest deployment that does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from sqlalchemy.orm import sessionmaker

from newsrec.data.mind import News
from newsrec.data.popularity import popularity_features
from newsrec.encoders.cache import EmbeddingCache
from newsrec.models.ranker import Ranker, model_version
from newsrec.service.catalogue import Catalogue
from newsrec.service.deployment_copies import DeploymentError, ModelCopies
from newsrec.store import repository as repo
from newsrec.store.models import VECTOR_ID_CHARS, NewsRow

__all__ = ["Arm", "ArmSpec", "Deployments", "DeploymentError", "arm_specs", "load_checked", "pick_arm", "user_point"]

logger = logging.getLogger(__name__)
PROBE_SIZE = 8  # stored news a model encodes and scores before it may serve
PROBE_NEWS = [  # when the store holds none yet
    News("probe-1", "Local team wins the championship in overtime", "sports", "basketball"),
    News("probe-2", "Central bank raises interest rates again", "finance", "markets"),
]
SAME_VECTOR = 0.99  # cosine above which a stored vector is what the model computes (bf16 vs fp32: 0.9999+)


@dataclass(frozen=True)
class ArmSpec:
    model_dir: str  # the folder deployed: what a machine without a copy of it copies
    version: str
    share: float
    digest: str = ""  # of the model's files as deployed, naming each machine's copy ("": recorded before copies)

    def as_dict(self) -> dict:
        return {"model_dir": self.model_dir, "version": self.version, "share": self.share, "digest": self.digest}


@dataclass
class Arm:
    spec: ArmSpec
    ranker: Ranker
    catalogue: Catalogue

    @property
    def version(self) -> str:
        return self.spec.version


class Deployments:
    """The arms this worker serves, and the change to a new deployment: recorded by `deploy` once
    its model is proven here, followed by every worker (`follow`: loaded in the background and
    swapped in under the service's lock when ready; the old arms answer until then)."""

    def __init__(
        self,
        first: Arm,
        make_arm: Callable[[ArmSpec, Ranker], Arm],  # an arm with an empty catalogue for this model
        sessions: sessionmaker,
        cache: EmbeddingCache | None,
        lock: threading.RLock,
        copies: ModelCopies,  # this machine's copies of deployed folders, shared by its workers
    ):
        self.arms = [first]
        self.versions = {first.version}  # every version ever deployed: the only ones metrics name
        self.loading: threading.Thread | None = None  # this worker's one loader of deployments
        self._wanted: list[ArmSpec] = [first.spec]  # the newest deployment recorded
        self.problem: str | None = None  # why this worker does not serve the newest deployment
        self._make_arm, self.sessions, self.cache, self.lock = make_arm, sessions, cache, lock
        self._proven: dict[str, Ranker] = {}  # models checked by `deploy`, for `_build` to take
        self.copies = copies

    def start(self, deployments: list[list[ArmSpec]]) -> None:
        """At start: the newest recorded deployment that loads here (before the first answer)."""
        self.versions.update(spec.version for specs in deployments for spec in specs)
        self.arms = self._newest_that_loads(deployments)
        self.copies.settle({arm.spec.digest for arm in self.arms}, {s.digest for s in (deployments or [[]])[-1]})

    def follow(self, deployments: list[list[ArmSpec]]) -> None:
        """Deployments recorded since this worker last looked: load the newest in the background."""
        self.versions.update(spec.version for specs in deployments for spec in specs)
        self._redeploy(deployments[-1])

    def deploy(self, model_dir: str, share: float) -> list[ArmSpec]:
        """Serve `model_dir` to `share` of the users (1: to all, in place of the current models;
        less: beside the current primary model, which keeps the rest). Every worker follows.

        The folder is copied (what serves from now on, whatever is written to it later), the
        model loaded from the copy and proven (`load_checked`) before the deployment is recorded:
        a folder that is not there raises FileNotFoundError, one that cannot serve DeploymentError.
        """
        copy = self.copies.copy(model_dir)
        version, current = model_version(copy), self.arms[0].spec
        if share >= 1.0:
            specs = [ArmSpec(model_dir, version, 1.0, copy.name)]
        elif current.version == version:
            raise ValueError(f"{model_dir} is the model already serving: give share 1 or another model")
        else:
            specs = [replace(current, share=1.0 - share), ArmSpec(model_dir, version, share, copy.name)]
        with self.sessions() as session:
            probe = repo.newest_news(session, PROBE_SIZE)
        self._proven[version] = load_checked(specs[-1], copy, probe, self.cache)
        try:
            with self.sessions.begin() as session:
                repo.add_deployment(session, [spec.as_dict() for spec in specs])
        except Exception:
            self._proven.pop(version, None)  # not recorded: nothing will take it
            raise
        return specs

    def _build(self, specs: list[ArmSpec]) -> list[Arm]:
        """Arms for these specs: loaded models are kept (their share updated), new ones loaded,
        proven and caught up with the feeds. Raises if one cannot serve here."""
        loaded = {arm.version: arm for arm in self.arms}
        arms = []
        for spec in specs:
            if spec.version in loaded:
                arms.append(Arm(spec, loaded[spec.version].ranker, loaded[spec.version].catalogue))
                continue
            with self.sessions() as session:
                probe = repo.newest_news(session, PROBE_SIZE)
            copy = self.copies.copy(spec.model_dir, spec.version, spec.digest)  # made here if this machine lacks it
            ranker = load_checked(spec, copy, probe, self.cache, self._proven.pop(spec.version, None))
            arm = self._make_arm(spec, ranker)
            with self.sessions() as session:
                arm.catalogue.catch_up(session, time.time())
            arms.append(arm)
        return arms

    def _newest_that_loads(self, deployments: list[list[ArmSpec]]) -> list[Arm]:
        """The arms of the newest deployment that serves here; else the model this worker started with."""
        for specs in reversed(deployments):
            try:
                return self._build(specs)
            except Exception as e:  # a model that broke after it was deployed must not stop the worker
                self._failed(specs, e)
        return self.arms

    def _failed(self, specs: list[ArmSpec], error: Exception) -> None:
        versions = [s.version for s in specs]
        self.problem = f"deployment {versions} does not load here: {error}"[:500]
        logger.error("%s; serving %s", self.problem, [arm.version for arm in self.arms])

    def _redeploy(self, specs: list[ArmSpec]) -> None:
        """Load a new deployment in the background; swap it in when ready, under the lock. One
        loader per worker, and it always ends on the newest deployment: a slow older one that
        finishes after a newer one was recorded is dropped, never swapped in over it."""
        with self.lock:
            self._wanted = specs
            if self.loading is not None and self.loading.is_alive():
                return  # the running loader takes `_wanted` when it finishes its current one
            self.loading = threading.Thread(target=self._load_wanted, name="deployment", daemon=True)
            self.loading.start()

    def _load_wanted(self) -> None:
        while True:
            with self.lock:
                specs = self._wanted
            try:
                arms = self._build(specs)
            except Exception as e:  # e.g. a folder this machine lacks: keep serving what it has
                with self.lock:
                    if self._wanted is specs:
                        self._failed(specs, e)
                        return
                continue
            with self.lock, self.sessions() as session:
                if self._wanted is not specs:  # a newer deployment came while this one loaded
                    continue
                now = time.time()
                for arm in arms:
                    arm.catalogue.catch_up(session, now)  # what came in while loading
                self.arms, self.problem = arms, None
            logger.info("serving %s", [(arm.version, arm.spec.share) for arm in arms])
            self.copies.settle({arm.spec.digest for arm in arms}, {spec.digest for spec in specs})
            return


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
    return [ArmSpec(a["model_dir"], a["version"], float(a["share"]), a.get("digest", "")) for a in json.loads(stored)]


def load_checked(
    spec: ArmSpec,
    copy: Path,
    stored: Sequence[NewsRow],
    cache: EmbeddingCache | None = None,
    ranker: Ranker | None = None,
) -> Ranker:
    """The model of `spec` loaded from `copy`, this machine's copy of its folder (or `ranker`,
    already loaded from it), proven able to serve.

    `stored`: a few news rows of the store, the probe. A missing file raises FileNotFoundError;
    anything else that stops the model from serving raises DeploymentError.
    """
    if ranker is None:
        ranker = _load(copy, spec.model_dir, cache)
    if len(ranker.vector_id) > VECTOR_ID_CHARS:
        raise DeploymentError(
            f"this model's vector name is {len(ranker.vector_id)} characters, over the store's {VECTOR_ID_CHARS}: "
            "load its encoder from a shorter path"
        )
    news = [row.as_news() for row in stored] or PROBE_NEWS
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


def _load(copy: Path, model_dir: str, cache: EmbeddingCache | None) -> Ranker:
    try:
        return Ranker.load(copy, {}, cache)
    except FileNotFoundError:
        raise
    except ValueError as e:  # Ranker.load says what is wrong (sizes out of bounds, weights of other shapes ...)
        reason = str(e).replace(str(copy), model_dir)  # named by the folder deployed, not by this machine's copy
        raise DeploymentError(f"{model_dir} does not load as a newsrec model: {reason}") from None
    except Exception as e:  # a corrupt model.pt, an unknown encoder ...
        raise DeploymentError(
            f"{model_dir} does not load as a newsrec model ({type(e).__name__}): train it with `newsrec train`"
        ) from None


# popularity a served item may reach: (clicks, views, hours since first seen), never seen to viral
PROBE_TRAFFIC = [(0, 0, 0), (0, 1, 1), (1, 10, 2), (30, 1_000, 24), (10_000, 200_000, 24 * 30)]


@torch.no_grad()
def _probe_scores(ranker: Ranker, news: list[News], vectors: np.ndarray) -> np.ndarray:
    """Scores of the probe news for a reader of all of them, by the model's serving path, as the
    news stand now and as if each had the traffic of `PROBE_TRAFFIC` (weights that overflow
    only once items have clicks are caught here, not after the first clicks)."""
    model, items = ranker.model, torch.from_numpy(vectors)
    now = time.time()
    clicks, views, hours = (np.array(column, np.float64) for column in zip(*PROBE_TRAFFIC))
    traffic = popularity_features(clicks, views, now - hours * 3600, now)
    user = model.user_vector(items[None], torch.ones(1, len(news), dtype=torch.bool))
    query = model.query_vector(user)[0]
    scores = [model.item_vector(items, torch.from_numpy(ranker.popularity.features([n.news_id for n in news], now)))]
    scores += [model.item_vector(items, torch.from_numpy(np.tile(row, (len(news), 1))).float()) for row in traffic]
    return torch.cat([s @ query for s in scores]).numpy()


def _same_vector(stored: np.ndarray, computed: np.ndarray) -> bool:
    if stored.shape != computed.shape:
        return False
    norms = float(np.linalg.norm(stored) * np.linalg.norm(computed))
    return norms > 0 and float(stored @ computed) / norms >= SAME_VECTOR
