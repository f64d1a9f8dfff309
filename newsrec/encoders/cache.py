"""On-disk embedding cache, keyed by model and exact text.

One SQLite file holds every model's vectors, so a second run (or another command on the same
news) encodes nothing it already has. SQLite is in the standard library and safe to share
between processes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np

from newsrec.environment import environment

__all__ = ["EmbeddingCache", "default_cache_dir"]

_CHUNK = 900  # stay below SQLite's limit of host parameters per statement


def default_cache_dir() -> Path:
    """`$NEWSREC_CACHE_DIR`, else `~/.cache/newsrec`."""
    return environment().cache_dir


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors by (model id, text). `model_id` must change whenever the weights change."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_cache_dir() / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one connection for every thread (a service encodes news in its request threads), used in turn
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))"
        )

    def fill(self, model_id: str, rows: dict[str, int], out: np.ndarray) -> set[str]:
        """Write the cached vector of each text key into `out[rows[key]]`; returns the keys found.
        (Straight into one array: a dict of small arrays per text fragments the heap.)"""
        keys = list(rows)
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                hits = self._db.execute(
                    f"SELECT key, vec FROM embeddings WHERE model = ? AND key IN ({','.join('?' * len(chunk))})",
                    [model_id, *chunk],
                )
                for key, vector in hits:
                    out[rows[key]] = np.frombuffer(vector, dtype=np.float32)
                    found.add(key)
        return found

    def put(self, model_id: str, texts: list[str], vectors: np.ndarray) -> None:
        rows = [(model_id, text_key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors)]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)

    def count(self, model_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", [model_id]).fetchone()[0]
