"""Cache of LLM outputs, keyed by task + model + prompt version + input text.

Reruns are free, and a stopped batch resumes where it ended: finished items are found here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from newsrec.encoders.cache import default_cache_dir

__all__ = ["LLMCache"]


class LLMCache:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_cache_dir() / "llm.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, value TEXT)")

    @staticmethod
    def key(task: str, model_id: str, prompt_version: str, text: str) -> str:
        return hashlib.sha1("\x1f".join([task, model_id, prompt_version, text]).encode()).hexdigest()

    def get(self, key: str) -> dict | None:
        row = self._db.execute("SELECT value FROM outputs WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else None

    @staticmethod
    def through(cache: LLMCache | None, key: str, make: Callable[[], dict]) -> dict:
        """The cached value for `key`, else `make()` stored under it (no cache: just `make()`)."""
        if cache is None:
            return make()
        hit = cache.get(key)
        if hit is None:
            hit = make()
            cache.put(key, hit)
        return hit

    def put(self, key: str, value: dict) -> None:
        with self._db:  # committed per item: a kill loses at most the item in flight
            self._db.execute("INSERT OR REPLACE INTO outputs VALUES (?, ?)", [key, json.dumps(value)])
