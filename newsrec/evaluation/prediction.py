"""MIND leaderboard output: `prediction.txt`, one line per impression.

Each line is `<impression id> [r1,r2,...]` where ri is the 1-based rank of the i-th listed
candidate (1 = most relevant). Lines are written as the scores come, so a 2.37M-impression
test file is scored in chunks and never held whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from newsrec.data.mind import Impression
from newsrec.evaluation.metrics import ranks

__all__ = ["write_predictions", "read_predictions"]


def write_predictions(path: str | Path, scored: Iterable[tuple[Impression, np.ndarray]]) -> int:
    """Write each (impression, its candidates' scores) as it comes; returns the lines written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with path.open("w") as f:
        for imp, s in scored:
            f.write(f"{imp.impression_id} [{','.join(map(str, ranks(s)))}]\n")
            lines += 1
    return lines


def read_predictions(path: str | Path) -> dict[str, list[int]]:
    """Parse a prediction.txt back into {impression id: ranks}."""
    out = {}
    for line_no, line in enumerate(Path(path).read_text().splitlines(), 1):
        imp_id, _, ranking = line.partition(" ")
        if not (ranking.startswith("[") and ranking.endswith("]")):
            raise ValueError(f"{path}:{line_no}: expected '<impression id> [r1,r2,...]'")
        out[imp_id] = [int(r) for r in ranking[1:-1].split(",")]
    return out
