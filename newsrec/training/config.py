"""Training settings: one pydantic model, read once, saved beside the model.

Every field is also a `newsrec train` flag of the same name (underscores become dashes; the
flags are made from these fields in `newsrec/cli/settings_options.py`), a `--set NAME=VALUE`
pair, or a line of a YAML or JSON config file. `load_config` applies them in that order of
precedence: flags > --set > config file > defaults.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from newsrec.encoders.concat import SEPARATOR
from newsrec.models.recommender import RecommenderSettings
from newsrec.models.spec import ModelSpec
from newsrec.precision import Precision
from newsrec.training.adversarial import AdversarialMethod

__all__ = ["TrainConfig", "load_config", "parse_settings", "ConfigError"]


class ConfigError(ValueError):
    """A setting is wrong; the message names the flag and what to use instead."""


class TrainConfig(RecommenderSettings, ModelSpec):
    """Every training setting: what the saved model needs (`ModelSpec` to read news, `RecommenderSettings`
    to build the recommender) plus how to train it."""

    model_config = ConfigDict(extra="forbid")

    train_precision: Precision = Field(
        "auto", description="matrix products of a training step (auto: bf16 where the CPU has it natively)"
    )
    # augmentation
    paraphrases: str | None = Field(None, description="JSONL from `newsrec paraphrase`: alternative titles")
    paraphrase_prob: float = Field(0.0, ge=0, le=1, description="chance a training news uses its paraphrase")
    token_dropout: float = Field(0.0, ge=0, lt=1, description="share of words dropped in a news item's augmented copy")
    token_swap: float = Field(0.0, ge=0, le=1, description="share of adjacent word pairs swapped in the augmented copy")
    augment_prob: float = Field(0.0, ge=0, le=1, description="chance a training news is shown as its augmented copy")
    # adversarial training on the input embeddings (news vectors, or the tuned layers' inputs)
    adversarial: AdversarialMethod = Field("none", description="FGM / PGD perturbations of the input embeddings")
    adv_epsilon: float = Field(0.05, gt=0, description="L2 size of the perturbation per news item (relative)")
    adv_steps: int = Field(3, ge=1, description="PGD ascent steps")
    # optimisation
    negatives: int = Field(4, ge=1, description="sampled non-clicks per click (K)")
    batch_size: int = Field(32, ge=1, description="clicks per training step")
    epochs: int = Field(8, ge=1, description="most epochs (early stopping may end sooner)")
    lr: float = Field(1e-4, gt=0, description="AdamW learning rate of the recommender")
    plm_lr: float = Field(2e-5, gt=0, description="learning rate of fine-tuned PLM layers")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay (matrices only)")
    patience: int = Field(2, ge=1, description="epochs without validation gain before stopping")
    seed: int = Field(42, description="seed of sampling, initialisation and augmentation")

    @model_validator(mode="after")
    def _training_needs(self) -> TrainConfig:
        if self.paraphrase_prob > 0 and not self.paraphrases:
            raise ValueError("paraphrase_prob > 0 needs --paraphrases FILE from `newsrec paraphrase`")
        if (self.paraphrase_prob > 0 or self.augment_prob > 0) and self.finetune_layers:
            raise ValueError("paraphrase/augment_prob work with the frozen PLM only: set --finetune-layers 0")
        if self.augment_prob > 0 and not (self.token_dropout or self.token_swap):
            raise ValueError("augment_prob > 0 needs token_dropout or token_swap > 0")
        members = len(self.encoder.split(SEPARATOR))
        if len(self.initial_scale) not in (1, members) or min(self.initial_scale) <= 0:
            raise ValueError(f"initial_scale takes one positive value, or one per member of {self.encoder} ({members})")
        for name in ("enrichment", "paraphrases"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"--{name} {path} does not exist")
        return self


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """["tuning=lora", "adv_epsilon=0.1"] -> {"tuning": "lora", "adv_epsilon": 0.1} (values read as YAML)."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--set {pair!r}: write NAME=VALUE, e.g. --set tuning=lora")
        values[name.strip().replace("-", "_")] = yaml.safe_load(value)
    return values


def load_config(path: str | Path | None = None, *, pairs: Sequence[str] = (), **overrides: Any) -> TrainConfig:
    """Defaults, then the config file (YAML or JSON), then `--set` pairs, then non-None overrides (CLI flags)."""
    values = _read_config_file(Path(path)) if path is not None else {}
    values.update(parse_settings(pairs))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**values)
    except ValidationError as e:
        lines = [_explain(error) for error in e.errors()]
        raise ConfigError("invalid training settings:\n  " + "\n  ".join(lines)) from None


def _read_config_file(path: Path) -> dict[str, Any]:
    """The settings of a YAML or JSON file, names with underscores."""
    text = path.read_text()
    try:
        loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {e}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of setting: value")
    return {str(k).replace("-", "_"): v for k, v in loaded.items()}


def _explain(error: ErrorDetails) -> str:
    """One validation error as `--flag: what is wrong` (a check across settings: just its message)."""
    message = error["msg"]
    if error["type"] == "value_error":  # a check of ours: its own words, without pydantic's "Value error, "
        message = str(error.get("ctx", {}).get("error", message))
    elif error["type"] == "extra_forbidden":
        message += " (no such setting: see `newsrec train --help`)"
    if not error["loc"]:
        return message
    return f"--{str(error['loc'][0]).replace('_', '-')}: {message}"
