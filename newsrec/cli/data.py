"""`newsrec data import KIND PATH --out DIR`: another dataset's files, written once in MIND's format."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from newsrec.cli.console import console
from newsrec.cli.errors import CommandError
from newsrec.data.adressa import AdressaImported, import_adressa
from newsrec.data.ebnerd import import_ebnerd
from newsrec.data.imported import Imported
from newsrec.data.site_logs import import_site_logs
from newsrec.data.xmind import LANGUAGES, UNTRANSLATED_FILE, XmindImported, import_xmind

__all__ = ["data_app"]

data_app = typer.Typer(help="Datasets other than MIND, in MIND's file format.", no_args_is_help=True)


class Kind(str, Enum):
    ebnerd = "ebnerd"  # Ekstra Bladet's EB-NeRD (parquet): RecSys Challenge 2024, Danish
    adressa = "adressa"  # Adresseavisen's SmartMedia logs (JSON Lines a day): Norwegian, clicks only
    xmind = "xmind"  # MIND's news translated into 14 languages, with MIND's clicks
    site = "site"  # a site's own logs: news and impressions as CSV or JSON Lines (`data/site_logs.py`)


HELD_OUT = ("dev", "test")  # splits the next command validates on or predicts, not trains on


@data_app.command("import")
def import_dataset(
    kind: Annotated[Kind, typer.Argument(help="the dataset's kind")],
    path: Annotated[Path, typer.Argument(help="the dataset's folder (or file), as downloaded")],
    out: Annotated[Path, typer.Option(help="folder to write news.tsv, train/, dev/ (and test/) into")],
    history_limit: Annotated[int, typer.Option(min=1, help="newest history articles kept per impression")] = 50,
    dev_share: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="site: the latest share of impressions written to dev/")
    ] = 0.1,
    mind: Annotated[
        list[Path] | None,
        typer.Option(help="xmind: MIND's folder (news.tsv, train/, dev/), or each of MIND's download folders"),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help=f"xmind: {', '.join(LANGUAGES)} (default: the one PATH names, xMIND/fin/)")
    ] = None,
    negatives: Annotated[int, typer.Option(min=1, help="adressa: unread articles shown beside each click")] = 4,
    seed: Annotated[int, typer.Option(help="adressa: seed of the draw of those articles")] = 42,
) -> None:
    """Write a dataset as news.tsv and <split>/behaviors.tsv: every newsrec command then reads it like MIND.

    ebnerd: the folder as downloaded (articles.parquet, train/, validation/, test/); histories
    from each split's history.parquet.

    adressa: the folder of daily event files (one_week/ with 20170101 ... 20170107). Clicks
    only: each click becomes an impression with --negatives unread articles of that day, the
    last day goes to dev/.

    xmind: one language's xMIND news (xMIND/fin/, a zip or news.tsv) and --mind: MIND's news
    with the translated title and abstract, MIND's behaviors copied.

    site: a folder with news.csv|jsonl (news_id, title; category, subcategory, abstract, url,
    published_at) and impressions.csv|jsonl in time order (impression_id, user_id, time as ISO
    8601, shown and clicked as space-separated news ids); a user's history is their earlier clicks.
    """
    if (kind is Kind.xmind) != bool(mind):
        raise CommandError("xmind needs --mind (MIND's folder)" if kind is Kind.xmind else "--mind is for xmind only")
    imported = _imported(kind, path, out, history_limit, dev_share, mind or [], language, negatives, seed)
    splits = ", ".join(f"{split} {count:,}" for split, count in imported.impressions.items())
    console.print(f"wrote {imported.news:,} news and impressions ({splits}) to {out}")
    for note in _notes(imported):
        console.print(note)
    trained = " ".join(f"--behaviors {out / split}" for split in imported.impressions if split not in HELD_OUT)
    dev = f" --valid {out / 'dev'}" if "dev" in imported.impressions else ""
    console.print(f"next: newsrec train --news {out} {trained}{dev} --out runs/{kind.value}")


def _imported(
    kind: Kind, path: Path, out: Path, history_limit: int, dev_share: float,
    mind: list[Path], language: str | None, negatives: int, seed: int,
) -> Imported:  # fmt: skip
    if kind is Kind.site:
        return import_site_logs(path, out, history_limit, dev_share)
    if kind is Kind.adressa:
        return import_adressa(path, out, history_limit, negatives, seed)
    if kind is Kind.xmind:
        return import_xmind(path, mind, out, language)
    return import_ebnerd(path, out, history_limit)


def _notes(imported: Imported) -> list[str]:
    """What the import left out or changed, one line each."""
    notes = []
    if imported.unknown_news:
        notes.append(f"left out {imported.unknown_news:,} news ids that the news file lacks (or has untitled)")
    if imported.clicks_outside_view:
        notes.append(f"added {imported.clicks_outside_view:,} clicked news the impression did not list as candidates")
    if isinstance(imported, AdressaImported):
        notes += [f"skipped {count:,} {reason}" for reason, count in imported.skipped.items()]
    if isinstance(imported, XmindImported):
        name = LANGUAGES[imported.language]
        notes.append(f"news text in {name} ({imported.language})")
        if imported.untranslated:
            notes.append(
                f"{imported.untranslated:,} news have no {name} text and keep MIND's English: "
                f"listed in {imported.out / UNTRANSLATED_FILE}"
            )
    return notes
