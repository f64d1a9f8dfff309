"""What every dataset importer shares: its summary and its error (`datasets.py` lists them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DatasetFormatError", "Imported"]


class DatasetFormatError(ValueError):
    """A dataset's file lacks what the importer needs; the message names the file and what to do."""


@dataclass
class Imported:
    """What an import wrote under `out`: news.tsv and <split>/behaviors.tsv."""

    out: Path
    news: int = 0
    impressions: dict[str, int] = field(default_factory=dict)  # per split written (train, dev, test)
    clicks_outside_view: int = 0  # clicked news missing from what the impression showed: added as candidates
    unknown_news: int = 0  # candidate or history ids the news file lacks (or has untitled): left out
