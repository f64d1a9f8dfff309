"""Service settings: the only place the service reads its environment (pydantic-settings).

Environment variables are prefixed NEWSREC_: NEWSREC_API_KEYS="key1:news+users,key2:admin",
NEWSREC_MODEL_DIR, NEWSREC_DB_URL, ... `newsrec serve` flags set the same fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsrec.encoders.cache import default_cache_dir
from newsrec.serve.ratelimit import Rate
from newsrec.serve.schemas import BATCH_CEILING
from newsrec.service.config import CoreSettings
from newsrec.service.revocations import TOKEN_LIFE_CEILING
from newsrec.store.db import DB_WAIT_SECONDS

__all__ = ["ServiceSettings", "SCOPES", "parse_api_keys"]

SCOPES = ("news", "users", "admin")
MIN_SECRET_CHARS = 32  # HS256 wants a key of at least 256 bits
ANSWER_MARGIN_SECONDS = 5.0  # past the lock wait, a statement of the serving path has answered long before
MIN_KEY_CHARS = 16  # an API key is a password that is guessed online: 16 hex characters are 64 bits


def parse_api_keys(raw: str) -> dict[str, frozenset[str]]:
    """`KEY:SCOPE+SCOPE,...` -> {key: scopes}; a bad entry raises naming it (never the key itself)."""
    keys: dict[str, frozenset[str]] = {}
    for i, entry in enumerate(filter(None, (e.strip() for e in raw.split(","))), 1):
        key, sep, scopes = entry.partition(":")
        wanted = frozenset(s.strip() for s in scopes.split("+") if s.strip())
        if not sep or not key or not wanted or not wanted <= set(SCOPES):
            raise ValueError(f"NEWSREC_API_KEYS entry {i} should be KEY:SCOPE+SCOPE with scopes from {SCOPES}")
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(
                f"NEWSREC_API_KEYS entry {i}: a key needs at least {MIN_KEY_CHARS} characters, it has {len(key)} "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(16))'`)"
            )
        keys[key] = wanted
    return keys


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSREC_")

    model_dir: Path
    model_digest: str = Field(
        "",
        description="set by `newsrec serve`: the digest of this machine's copy of model_dir, made once at start, "
        "which every worker serves (also one started later); empty: each app copies model_dir as it starts",
    )
    db_url: str | None = Field(None, description="SQLAlchemy URL; default: sqlite file beside the model")
    api_keys: SecretStr = Field(SecretStr(""), description="KEY:SCOPE+SCOPE,... (scopes news, users, admin)")
    token_secrets: SecretStr = Field(
        SecretStr(""),
        description="secrets for user tokens, comma-separated: the first "
        "signs, the others are still accepted (rotation); default: the database's own",
    )
    token_ttl_seconds: int = Field(
        3600, ge=60, le=TOKEN_LIFE_CEILING, description="longest life of a user token, also on verification"
    )
    deploy_roots: str = Field(
        "",
        description="folders models may be deployed from (POST /v1/admin/model), comma-separated; "
        "default: the service's working directory and the folder holding model_dir",
    )
    index: Literal["shared", "milvus"] = Field("shared", description="shared: in process over the mapped vectors")
    approximate_above: int = Field(100_000, description="pool size past which the index turns approximate (IVF)")
    probe_share: float = Field(
        1 / 16, gt=0, le=1, description="share of the IVF lists (about 4 sqrt(news)) an approximate search reads"
    )
    snapshot_dir: Path | None = Field(
        None, description="where workers share the stored news vectors (default: the cache dir's news-snapshots)"
    )
    threads: int | None = Field(None, ge=1, description="torch/BLAS/FAISS threads per worker; default: cores / workers")
    milvus_uri: str | None = None
    recency_days: float = Field(7.0, gt=0, description="only news published this recently are recommended")
    user_cache_size: int = Field(10_000, ge=1, description="users whose state a worker keeps in memory (LRU)")
    popularity_refresh_seconds: float = Field(
        300.0,
        ge=0,
        description="every item's popularity (decay, age) is recomputed this often; items with new traffic at once",
    )
    max_body_bytes: int = Field(5_000_000, ge=1_000, description="largest request body, also when chunked")
    max_batch: int = Field(
        BATCH_CEILING, ge=1, le=BATCH_CEILING, description="most news, events or impressions in one request"
    )
    max_json_values: int = Field(
        250_000,
        ge=1_000,
        description="most commas, brackets and braces in one body (each opens at most one JSON value): "
        "bounds the memory a body takes to parse, counted while it streams in",
    )
    counted_views_per_hour: int = Field(
        200, ge=0, description="stories a user's views count for, per hour, one view each (service/counting.py)"
    )
    counted_clicks_per_hour: int = Field(
        30, ge=0, description="a user's clicks per hour popularity counts, at most one per story (service/counting.py)"
    )
    rate_limit: str = Field("6000/minute", description="requests per client address, per worker process")
    key_rate_limit: str = Field("30000/minute", description="requests per API key or user, per worker process")
    auth_failure_limit: str = Field("30/minute", description="failed authentications per client address before 429")
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="a connection that has not sent its request headers by then is closed"
    )
    db_wait_seconds: float = Field(
        DB_WAIT_SECONDS,
        gt=0,
        le=300,
        description="longest wait for a lock another process holds on the database: then 503, not a hang",
    )
    db_answer_seconds: float | None = Field(
        None,
        gt=0,
        le=600,
        description="PostgreSQL: a statement the server sends nothing back for this long (a frozen server) "
        "fails, its connection is closed and the request is a 503; default: db_wait_seconds + 5",
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="a request body not complete this long after its headers is refused (408)"
    )
    trusted_proxies: str = Field(
        "",
        description="addresses of reverse proxies whose X-Forwarded-For names the client, comma-separated "
        "('*': any); default: none, every client is its own peer address",
    )
    erase_within_seconds: float = Field(
        3600.0,
        ge=0,
        description="PostgreSQL: an erased user's bytes leave the table files (VACUUM FULL) at most this long "
        "after the erasure; 0: before DELETE answers",
    )
    migrate_on_start: bool = Field(True, description="bring the database schema up to date when the app starts")
    log_file: Path | None = Field(None, description="request log; default: service.log beside the model")
    access_log: bool = Field(
        True, description="each request's log line (method, route template, status, time) also on stderr"
    )
    metrics_dir: Path | None = Field(
        None,
        description="folder where several worker processes add up their metrics (set by `newsrec serve --workers N`)",
    )

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, v: SecretStr) -> SecretStr:
        parse_api_keys(v.get_secret_value())
        return v

    @field_validator("token_secrets")
    @classmethod
    def _secrets(cls, v: SecretStr) -> SecretStr:
        if any(len(s.strip()) < MIN_SECRET_CHARS for s in v.get_secret_value().split(",") if s.strip()):
            raise ValueError(
                f"each token secret needs at least {MIN_SECRET_CHARS} characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return v

    @field_validator("rate_limit", "key_rate_limit", "auth_failure_limit")
    @classmethod
    def _limit(cls, v: str) -> str:
        Rate.parse(v)
        return v

    @model_validator(mode="after")
    def _index(self) -> ServiceSettings:
        if self.index == "milvus" and not self.milvus_uri:
            raise ValueError("--index milvus needs --milvus-uri (a .db file for milvus-lite, or a server URL)")
        if self.db_answer_seconds is not None and self.db_answer_seconds <= self.db_wait_seconds:
            raise ValueError("db_answer_seconds must exceed db_wait_seconds: a lock wait is silent that long")
        return self

    @property
    def answer_seconds(self) -> float:
        """How long a statement of the service may go without a byte from the database."""
        return self.db_answer_seconds or self.db_wait_seconds + ANSWER_MARGIN_SECONDS

    @property
    def keys(self) -> dict[str, frozenset[str]]:
        return parse_api_keys(self.api_keys.get_secret_value())

    @property
    def secrets(self) -> list[str]:
        return [s.strip() for s in self.token_secrets.get_secret_value().split(",") if s.strip()]

    def core(self) -> CoreSettings:
        """The service core's settings (the same names)."""
        names = [name for name in CoreSettings.__dataclass_fields__ if name != "snapshot_dir"]
        snapshots = self.snapshot_dir or default_cache_dir() / "news-snapshots"
        return CoreSettings(snapshot_dir=snapshots, **{name: getattr(self, name) for name in names})

    @property
    def deploy_folders(self) -> list[Path]:
        """The real paths deployments may come from."""
        given = [Path(p.strip()) for p in self.deploy_roots.split(",") if p.strip()]
        return [p.resolve() for p in given or [Path.cwd(), self.model_dir.resolve().parent]]

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.model_dir / 'service.sqlite').resolve()}"

    @property
    def request_log(self) -> Path:
        return self.log_file or self.model_dir / "service.log"
