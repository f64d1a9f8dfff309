"""Which models serve: one, or several side by side on shares of the users (A/B).

A deployment is a list of arms, each a model folder with its version (the hash of its weights)
and a share of users. A user's arm is fixed by a stable hash of their id, so each user always
sees the same model while a deployment lasts. `POST /v1/admin/model` records a new deployment
in the database; every worker follows it, loads new models in the background and swaps when
they are ready, the old ones serving until then.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from newsrec.models.ranker import Ranker
from newsrec.serve.catalogue import Catalogue

__all__ = ["Arm", "ArmSpec", "arm_specs", "pick_arm", "user_point"]


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
