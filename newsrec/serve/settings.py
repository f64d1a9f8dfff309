"""Service settings: the only place the service reads its environment (pydantic-settings).

Environment variables are prefixed NEWSREC_: NEWSREC_API_KEYS="key1:news+users,key2:admin",
NEWSREC_MODEL_DIR, NEWSREC_DB_URL, ... `newsrec serve` flags set the same fields.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings", "SCOPES", "parse_api_keys"]

SCOPES = ("news", "users", "admin")


def parse_api_keys(raw: str) -> dict[str, frozenset[str]]:
    """`KEY:SCOPE+SCOPE,...` -> {key: scopes}; a bad entry raises naming it (never the key itself)."""
    keys: dict[str, frozenset[str]] = {}
    for i, entry in enumerate(filter(None, (e.strip() for e in raw.split(","))), 1):
        key, sep, scopes = entry.partition(":")
        wanted = frozenset(s.strip() for s in scopes.split("+") if s.strip())
        if not sep or not key or not wanted or not wanted <= set(SCOPES):
            raise ValueError(f"NEWSREC_API_KEYS entry {i} should be KEY:SCOPE+SCOPE with scopes from {SCOPES}")
        keys[key] = wanted
    return keys


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSREC_")

    model_dir: Path
    db_url: str | None = Field(None, description="SQLAlchemy URL; default: sqlite file beside the model")
    api_keys: SecretStr = SecretStr("")
    index: str = "faiss"
    approximate_above: int = Field(100_000, description="pool size past which the index turns approximate (IVF)")
    threads: int | None = Field(None, description="torch/BLAS/FAISS threads per worker; default: cores / workers")
    milvus_uri: str | None = None
    recency_days: float = 7.0
    max_body_bytes: int = 5_000_000
    max_batch: int = 5_000
    log_file: Path | None = Field(None, description="request log; default: service.log beside the model")

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, v: SecretStr) -> SecretStr:
        parse_api_keys(v.get_secret_value())
        return v

    @property
    def keys(self) -> dict[str, frozenset[str]]:
        return parse_api_keys(self.api_keys.get_secret_value())

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.model_dir / 'service.sqlite').resolve()}"

    @property
    def request_log(self) -> Path:
        return self.log_file or self.model_dir / "service.log"
