"""Training settings: one pydantic model, read once, saved beside the model.

Every field is also a `newsrec train` flag of the same name (underscores become dashes), and
can come from a YAML or JSON config file; flags given on the command line win.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from newsrec.encoders.text import NEWS_FIELDS
from newsrec.models.recommender import SCORERS
from newsrec.models.user_encoders import USER_ENCODERS

__all__ = ["TrainConfig", "load_config", "ConfigError"]


class ConfigError(ValueError):
    """A setting is wrong; the message names the flag and what to use instead."""


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # news encoder
    encoder: str = Field("all-MiniLM-L6-v2", description="PLM name or local transformers folder")
    news_fields: list[str] = Field(["title", "abstract"], description="news text, in order")
    max_length: int = Field(64, ge=8, le=512, description="tokens per news text")
    enrichment: str | None = Field(None, description="JSONL from `newsrec enrich`: adds summary/keywords fields")
    finetune_layers: int = Field(0, ge=0, description="top PLM layers to train; 0 = frozen (fast)")
    # user encoder and scorer
    user_encoder: str = "nrms"
    scorer: str = "bilinear"
    heads: int = Field(4, ge=1)
    use_popularity: bool = True
    max_history: int = Field(50, ge=1, description="most recent clicks kept per user")
    # augmentation
    paraphrases: str | None = Field(None, description="JSONL from `newsrec paraphrase`: alternative titles")
    paraphrase_prob: float = Field(0.0, ge=0, le=1, description="chance a training news uses its paraphrase")
    # optimisation
    negatives: int = Field(4, ge=1, description="sampled non-clicks per click (K)")
    batch_size: int = Field(32, ge=1)
    epochs: int = Field(8, ge=1)
    lr: float = Field(1e-4, gt=0)
    plm_lr: float = Field(2e-5, gt=0, description="learning rate of fine-tuned PLM layers")
    weight_decay: float = Field(0.01, ge=0)
    patience: int = Field(2, ge=1, description="epochs without validation gain before stopping")
    seed: int = 42
    encode_batch_size: int = Field(64, ge=1)

    @field_validator("news_fields")
    @classmethod
    def _fields(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in NEWS_FIELDS]
        if bad or not v:
            raise ValueError(f"use one or more of {list(NEWS_FIELDS)}, got {v}")
        return v

    @model_validator(mode="after")
    def _needs(self) -> "TrainConfig":
        if any(f in self.news_fields for f in ("summary", "keywords")) and not self.enrichment:
            raise ValueError("news_fields summary/keywords need --enrichment FILE from `newsrec enrich`")
        if self.paraphrase_prob > 0 and not self.paraphrases:
            raise ValueError("paraphrase_prob > 0 needs --paraphrases FILE from `newsrec paraphrase`")
        if self.paraphrase_prob > 0 and self.finetune_layers:
            raise ValueError("paraphrase_prob works with the frozen PLM only: set --finetune-layers 0")
        for name in ("enrichment", "paraphrases"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"--{name} {path} does not exist")
        return self

    @field_validator("user_encoder", "scorer")
    @classmethod
    def _one_of(cls, v: str, info: ValidationInfo) -> str:
        choices = {"user_encoder": USER_ENCODERS, "scorer": SCORERS}[info.field_name]
        if v not in choices:
            raise ValueError(f"choose from {list(choices)}")
        return v


def load_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """Defaults, then the config file (YAML or JSON), then non-None overrides (CLI flags)."""
    values: dict[str, Any] = {}
    if path is not None:
        text = Path(path).read_text()
        loaded = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of setting: value")
        values.update({k.replace("-", "_"): v for k, v in loaded.items()})
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**values)
    except ValidationError as e:
        lines = [f"--{'-'.join(map(str, err['loc'])).replace('_', '-')}: {err['msg']}" if err["loc"] else err["msg"]
                 for err in e.errors()]
        raise ConfigError("invalid training settings:\n  " + "\n  ".join(lines)) from None
