"""Commands that run the service and feed it: `newsrec serve`, `newsrec news load`, `newsrec token`.

`serve --news news.tsv` starts ready to try: the catalogue is loaded first (in a process of its
own, so the supervisor never holds the model), then the page's address is printed, and
`newsrec token USER` prints a sign-in link for it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from newsrec.cli.console import console, notices
from newsrec.cli.errors import CommandError
from newsrec.progress import Progress

__all__ = ["register", "news_app"]

news_app = typer.Typer(help="The service's news: load a MIND news.tsv into its database.", no_args_is_help=True)
ModelOpt = Annotated[Path, typer.Option(help="model folder from `newsrec train`")]
DbOpt = Annotated[str | None, typer.Option(help="SQLAlchemy URL [default: sqlite file beside the model]")]
LOAD_BATCH = 1_000  # news encoded and stored per transaction: a stopped load keeps what it finished


def _settings(model: Path, **flags: Any):
    from newsrec.serve.settings import ServiceSettings

    if not (model / "model.pt").is_file():
        raise CommandError(f"{model} holds no model.pt: train one with `newsrec train --out {model}`")
    return ServiceSettings(model_dir=model, **{k: v for k, v in flags.items() if v is not None})


@news_app.command("load")
def load_news(
    news: Annotated[Path, typer.Option("--news", help="news.tsv (MIND format), or a folder holding it")],
    model: ModelOpt,
    db: DbOpt = None,
) -> None:
    """Store a catalogue's news in the service's database, encoded by the model, as POST /v1/news
    would; news already stored are skipped, so a rerun after a stop goes on where it ended."""
    from newsrec.data.mind import read_news
    from newsrec.encoders.cache import EmbeddingCache
    from newsrec.models.ranker import Ranker
    from newsrec.service.writes import store_news
    from newsrec.store import repository as repo
    from newsrec.store.db import make_engine, make_sessions, migrate

    settings = _settings(model, db_url=db)
    items = read_news(news)
    migrate(settings.database_url)
    sessions = make_sessions(make_engine(settings.database_url))
    with sessions() as session:
        stored = repo.known_news_ids(session, set(items))
    todo = [n for news_id, n in items.items() if news_id not in stored]
    notices.print(f"{len(items):,} news in {news}: {len(stored):,} already stored, {len(todo):,} to encode and store")
    if todo:
        cache = EmbeddingCache()
        ranker = Ranker.load(model, {}, cache)
        with Progress("storing news", len(todo), "news") as bar:
            for start in range(0, len(todo), LOAD_BATCH):
                batch = todo[start : start + LOAD_BATCH]
                store_news(sessions, ranker, batch, cache)
                bar.update(len(batch))
    notices.print(f"the service at {settings.database_url.split('?')[0]} holds {len(stored) + len(todo):,} of them")


def serve(
    model: ModelOpt,
    db: DbOpt = None,
    news: Annotated[
        Path | None, typer.Option(help="load this news.tsv first (`newsrec news load`), then serve")
    ] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes sharing the port")] = 1,
    index: Annotated[str | None, typer.Option(help="shared (in process, the default) | milvus")] = None,
    milvus_uri: Annotated[str | None, typer.Option(help="milvus-lite .db file or Milvus server URL")] = None,
) -> None:
    """Run the HTTP service (API keys from NEWSREC_API_KEYS="KEY:news+users,KEY2:admin"; every
    other NEWSREC_* setting is read too, see newsrec/serve/settings.py). `newsrec token USER`
    prints a sign-in link for the page."""
    from newsrec.serve.run import run_server

    settings = _settings(model, db_url=db, index=index, milvus_uri=milvus_uri)
    if news is not None:
        command = [sys.executable, "-m", "newsrec.cli.main", "news", "load", "--news", str(news), "--model", str(model)]
        if subprocess.run([*command, *(["--db", db] if db else [])]).returncode:
            raise CommandError(f"loading {news} failed (above): the service was not started")
    if not settings.keys:
        notices.print("[yellow]NEWSREC_API_KEYS is empty: apps cannot post news or mint tokens over HTTP[/]")
    run_server(settings, host, port, workers)


def token(
    user: Annotated[str, typer.Argument(help="the reader's user id")],
    model: ModelOpt,
    db: DbOpt = None,
    url: Annotated[str, typer.Option(help="the service's address, for the link")] = "http://127.0.0.1:8000",
) -> None:
    """Print a sign-in link to the page for one reader (a user token, signed as the service signs
    them: the first of NEWSREC_TOKEN_SECRETS, else the database's own secret)."""
    from newsrec.serve.auth import Authenticator
    from newsrec.store import repository as repo
    from newsrec.store.db import make_engine, make_sessions, migrate

    settings = _settings(model, db_url=db)
    migrate(settings.database_url)
    with make_sessions(make_engine(settings.database_url))() as session:
        secrets = settings.secrets or [repo.service_secret(session)]
    minted, expires = Authenticator({}, secrets, settings.token_ttl_seconds).mint(user)
    notices.print(f"a sign-in link for {user}, valid until {expires:%H:%M} UTC:")
    console.print(f"{url.rstrip('/')}/#token={minted}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(token)
    app.add_typer(news_app, name="news")
