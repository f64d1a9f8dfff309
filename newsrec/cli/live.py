"""Commands of the live loop: `newsrec replay` (logged traffic through a service, scored live),
`newsrec export` (the service's logged traffic as MIND files, to retrain on) and `newsrec report`
(each served model version's impressions, clicks and CTR@k)."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from newsrec.cli.errors import CommandError
from newsrec.data.behaviors import read_all_behaviors
from newsrec.data.mind import parse_time, read_news
from newsrec.data.missing_news import news_used_by
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.evaluate import HEADLINE_METRICS
from newsrec.evaluation.replay import ROWS, Client, ReplayResult, in_time_order, replay
from newsrec.models.ranker import Ranker

__all__ = ["register"]


def _remote_service(stack: ExitStack, url: str, key: str | None) -> Client:
    headers = {"Authorization": f"Bearer {key or ''}"}
    return stack.enter_context(httpx.Client(base_url=url, headers=headers, timeout=120))


def _in_process_service(stack: ExitStack, model: Path) -> Client:
    """The service in this process on a throwaway SQLite database, reached like a server."""
    from fastapi.testclient import TestClient

    from newsrec.serve.app import create_app
    from newsrec.serve.settings import ServiceSettings

    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsrec-replay-")))
    key = secrets.token_hex(16)
    unlimited = "1000000/minute"  # one client replaying a log is the whole load, not an abuser
    settings = ServiceSettings(
        model_dir=model,
        db_url=f"sqlite:///{folder / 'replay.sqlite'}",
        api_keys=f"{key}:admin",
        log_file=folder / "service.log",
        rate_limit=unlimited,
        key_rate_limit=unlimited,
    )
    client = stack.enter_context(TestClient(create_app(settings)))
    client.headers["Authorization"] = f"Bearer {key}"
    return client


def _print_replay(console: Console, result: ReplayResult, start_at: str) -> None:
    table = Table(title=f"replay from {start_at}: {result.impressions} impressions scored (x100)")
    table.add_column("ranker")
    for metric in HEADLINE_METRICS:
        table.add_column(metric, justify="right")
    for row in ROWS:
        table.add_row(row, *(f"{100 * result.metrics[row][m]:.2f}" for m in HEADLINE_METRICS))
    console.print(table)


@contextmanager
def _service_session(db: str) -> Iterator[Session]:
    """A session on the service's database at `db`; a clear error if it holds no service tables."""
    from sqlalchemy import inspect

    from newsrec.store.db import make_engine, make_sessions

    engine = make_engine(db)
    try:
        if not inspect(engine).has_table("impressions"):
            raise CommandError(f"{db} holds no newsrec service data: give the URL the service runs on (NEWSREC_DB_URL)")
        with make_sessions(engine)() as session:
            yield session
    finally:
        engine.dispose()


def register(app: typer.Typer, console: Console) -> None:
    @app.command("replay")
    def replay_command(
        model: Annotated[Path, typer.Option(help="model folder from `newsrec train` (the service's model)")],
        news: Annotated[Path, typer.Option(help="news.tsv, or a folder holding it")],
        behaviors: Annotated[list[Path], typer.Option(help="time-stamped behaviors.tsv (or folder); repeat")],
        start_at: Annotated[
            str,
            typer.Option(help="score impressions from this time on (e.g. 2019-11-13); earlier ones only warm up"),
        ],
        url: Annotated[str | None, typer.Option(help="a running service (default: one in this process)")] = None,
        key: Annotated[str | None, typer.Option(help="API key with the news and users scopes, for --url")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    ) -> None:
        """Replay logged traffic in time order through the service and score it live, beside the
        same model with popularity frozen at training time and two CTR baselines."""
        start = parse_time(start_at)
        if start is None:
            raise CommandError("--start-at needs a time, e.g. 2019-11-13")
        impressions = read_all_behaviors(behaviors)
        in_time_order(impressions)  # fails at once on logs without times
        used = news_used_by(impressions, read_news(news))
        with ExitStack() as stack:
            client = _remote_service(stack, url, key) if url else _in_process_service(stack, model)
            ranker = Ranker.load(model, used, EmbeddingCache())
            result = replay(client, ranker, used, impressions, start)
        if as_json:
            print(json.dumps(result.as_dict()))
        else:
            _print_replay(console, result, start_at)

    @app.command()
    def export(
        db: Annotated[
            str, typer.Option(help="the service's SQLAlchemy URL, e.g. sqlite:///runs/demo/model/service.sqlite")
        ],
        out: Annotated[Path, typer.Option(help="folder to write news.tsv and behaviors.tsv into")],
    ) -> None:
        """Write the service's logged traffic (impressions with their clicks, histories at the time)
        as MIND files: `newsrec train --init MODEL --news OUT --behaviors OUT` retrains on it."""
        from newsrec.store.export import export_mind

        with _service_session(db) as session:
            done = export_mind(session, out)
        console.print(f"wrote {done.news} news and {done.impressions} impressions ({done.clicks} clicks) to {out}")

    @app.command()
    def report(
        db: Annotated[str, typer.Option(help="the service's SQLAlchemy URL")],
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Per served model version: logged impressions, clicks in them and CTR@5 / CTR@10 (the share
        of impressions with a click among the first 5 / 10 shown): the online comparison."""
        from newsrec.store.report import traffic_by_version

        with _service_session(db) as session:
            rows = traffic_by_version(session)
        if as_json:
            print(json.dumps([r.as_dict() for r in rows]))
            return
        table = Table(title="logged traffic by model version")
        for column in ("version", "impressions", "clicks", "CTR@5", "CTR@10"):
            table.add_column(column, justify="left" if column == "version" else "right")
        for r in rows:
            table.add_row(
                r.version or "(not served here)",
                str(r.impressions),
                str(r.clicks),
                f"{r.ctr_at_5:.3f}",
                f"{r.ctr_at_10:.3f}",
            )
        console.print(table)
