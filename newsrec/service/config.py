"""The service core's settings, as one object (the HTTP layer's `ServiceSettings` fills it from
NEWSREC_* variables, and holds the defaults; the names are the same)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsrec.service.counting import CountLimits

__all__ = ["CoreSettings"]


@dataclass(frozen=True)
class CoreSettings:
    snapshot_dir: Path  # where this machine keeps the stored news its workers map (`news_snapshot.py`)
    approximate_above: int  # past this many news: approximate search (IVF lists)
    recency_days: float  # only news published this recently are recommended
    user_cache_size: int  # user states one worker holds (LRU)
    popularity_refresh_seconds: float  # every item's popularity term recomputed this often
    erase_within_seconds: float  # PostgreSQL: erased users' dead rows purged within this
    counted_views_per_hour: int  # `counting.py`'s caps, per user
    counted_clicks_per_hour: int

    @property
    def count_limits(self) -> CountLimits:
        return CountLimits(self.counted_views_per_hour, self.counted_clicks_per_hour)
