"""The console every `newsrec` command prints to (wide enough for the metric tables), and those tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from newsrec.evaluation.evaluate import METRIC_NAMES

__all__ = ["console", "notices", "print_metrics"]

console = Console(width=max(Console().width, 140))
# what a command says about its own work, on stderr (stdout keeps only its result, e.g. --json),
# as written: not wrapped, numbers not coloured
notices = Console(stderr=True, soft_wrap=True, highlight=False)


def print_metrics(results: dict[str, dict[str, float]], title: str) -> None:
    """A table of each scorer's metrics (x100, novelty as it is), captioned with the impressions judged."""
    table = Table(title=f"metrics x100 on {title}" if title else None, caption=_judged(results))
    table.add_column("scorer")
    shown = [m for m in METRIC_NAMES if any(m in r for r in results.values())]
    for m in shown:
        table.add_column(m, justify="right")
    for name, r in results.items():
        cells = [f"{r[m]:.2f}" if m == "novelty@10" else f"{100 * r[m]:.2f}" for m in shown if m in r]
        table.add_row(name, *cells)
    console.print(table)


def _judged(results: dict[str, dict[str, float]]) -> str | None:
    """How many impressions the metrics are over, and how many were skipped; None if not counted."""
    counts = next(iter(results.values()))  # every scorer judged the same impressions
    if "skipped" not in counts:
        return None
    judged, skipped = int(counts["impressions"]), int(counts["skipped"])
    return f"{judged} impressions judged, {skipped} skipped (lacking a click or a non-click)"
