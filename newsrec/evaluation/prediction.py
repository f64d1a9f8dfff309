"""MIND leaderboard output: `prediction.txt`, one line per impression.

Each line is `<impression id> [r1,r2,...]` where ri is the 1-based rank of the i-th listed
candidate (1 = most relevant). Lines are written as the scores come, so a 2.37M-impression
test file is scored in chunks and never held whole.

A path ending in `.zip` gets the same lines as the archive's one member, named after it
(`prediction.zip` holds `prediction.txt`, as MIND's leaderboard takes it; `predictions.zip`
holds `predictions.txt`, as EB-NeRD's Codabench takes it: its impression ids are kept by
`newsrec data import ebnerd`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import numpy as np

from newsrec.data.mind import Impression
from newsrec.evaluation.metrics import ranks

__all__ = ["write_predictions", "read_predictions"]


def write_predictions(path: str | Path, scored: Iterable[tuple[Impression, np.ndarray]]) -> int:
    """Write each (impression, its candidates' scores) as it comes; returns the lines written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with ExitStack() as files:
        f: IO[str]
        if path.suffix == ".zip":
            archive = files.enter_context(zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED))
            member = archive.open(f"{path.stem}.txt", "w", force_zip64=True)
            f = files.enter_context(io.TextIOWrapper(member, encoding="utf-8"))
        else:
            f = files.enter_context(path.open("w"))
        for imp, s in scored:
            f.write(f"{imp.impression_id} [{','.join(map(str, ranks(s)))}]\n")
            lines += 1
    return lines


def read_predictions(path: str | Path) -> dict[str, list[int]]:
    """Parse a prediction.txt back into {impression id: ranks}."""
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            text = archive.read(f"{path.stem}.txt").decode()
    else:
        text = path.read_text()
    out = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        imp_id, _, ranking = line.partition(" ")
        if not (ranking.startswith("[") and ranking.endswith("]")):
            raise ValueError(f"{path}:{line_no}: expected '<impression id> [r1,r2,...]'")
        out[imp_id] = [int(r) for r in ranking[1:-1].split(",")]
    return out
