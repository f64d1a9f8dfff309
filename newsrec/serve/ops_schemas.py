"""Bodies of the operators' routes: deployments (`routes/admin.py`), health and readiness
(`routes/system.py`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from newsrec.serve.schemas import Text

__all__ = ["DeployIn", "ServedArm", "Deployment", "HealthOut", "ReadyOut"]


class DeployIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_dir: Annotated[
        Text, Field(min_length=1, max_length=1000, description="a model folder on the service's machine")
    ]
    share: float = Field(1.0, gt=0, le=1, description="share of users it serves (1: all, replacing the current model)")


class ServedArm(BaseModel):
    model_dir: str
    version: str
    share: float


class Deployment(BaseModel):
    arms: list[ServedArm]
    loading: bool = Field(description="a new deployment is being loaded by this worker")
    problem: str | None = Field(
        None, description="why this worker does not serve the newest deployment (it serves the last one that loads)"
    )


class HealthOut(BaseModel):
    status: Literal["ok", "starting"]
    news: int = Field(description="news this worker has read so far (/ready catches up first, then counts)")


class ReadyOut(BaseModel):
    status: Literal["ready", "unready"]
    problem: str | None = Field(None, description="why this worker cannot serve now")
    news: int = Field(description="the news this worker serves, having caught up with the store")
    serving: list[str] = Field(default_factory=list, description="the model versions this worker serves")
    deployment_problem: str | None = Field(
        None,
        description="why this worker does not serve the newest deployment (it serves the newest one that loads "
        "here; other workers may serve the newest): deploy again, or fix the folder on this machine",
    )
