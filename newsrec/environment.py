"""The library's environment, read in one place (pydantic-settings).

`NEWSREC_CACHE_DIR` (vectors, LLM outputs, unpacked weights), `NEWSREC_LLM_API_KEY` (for an
OpenAI-compatible server), `NEWSREC_LLM_MODELS` (the local LLM per language or task and language),
`NEWSREC_PROGRESS_SECONDS` (how often long work logs a progress line) and torchrun's
`WORLD_SIZE` and `LOCAL_RANK`. The service has its own settings (`serve/settings.py`). Read afresh on each call,
so a test or a command can change them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Environment", "environment"]


class Environment(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSREC_", extra="ignore")

    cache_dir: Path = Field(Path.home() / ".cache" / "newsrec", description="caches of vectors, LLM outputs, weights")
    llm_api_key: SecretStr | None = Field(None, description="key sent to an OpenAI-compatible LLM server")
    llm_models: dict[str, str] = Field(
        default_factory=dict,
        description="local LLM over --llm auto's choice (llm/backends.py auto_models), JSON keyed by language or "
        'task:language: {"zh": "qwen2.5-coder-1.5b", "paraphrase:en": "gemma3-270m"}',
    )
    progress_seconds: float = Field(5.0, gt=0, description="seconds between progress lines when not on a terminal")
    world_size: int = Field(1, ge=1, validation_alias=AliasChoices("WORLD_SIZE"), description="set by torchrun")
    local_rank: int = Field(
        0, ge=0, validation_alias=AliasChoices("LOCAL_RANK"), description="set by torchrun: this process's GPU"
    )


def environment() -> Environment:
    return Environment()
