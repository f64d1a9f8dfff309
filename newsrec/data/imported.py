"""What every dataset importer shares: its summary and its error (`datasets.py` lists them)."""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DatasetFormatError", "Imported", "json_objects"]


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

    def candidates(
        self, shown: Sequence[str], clicked: set[str] | None, known: Container[str]
    ) -> tuple[list[str], list[int] | None]:
        """An impression's candidates and labels: the shown news the news file has, then clicked
        ones it did not show (each counted here); 1 for a click, labels None without clicks (a
        test split)."""
        outside = [n for n in sorted(clicked) if n not in shown] if clicked else []
        self.clicks_outside_view += len(outside)
        candidates = [n for n in [*shown, *outside] if n in known]
        self.unknown_news += len(shown) + len(outside) - len(candidates)
        return candidates, [int(n in clicked) for n in candidates] if clicked is not None else None


def json_objects(lines: Iterable[str], path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) of JSON Lines, blank lines skipped; a line that is no JSON object is
    an error naming `path` and the line."""
    for line, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as e:
            raise DatasetFormatError(f"{path}:{line}: not a JSON object ({e.msg})") from None
        if not isinstance(row, dict):
            raise DatasetFormatError(f"{path}:{line}: not a JSON object")
        yield line, row
