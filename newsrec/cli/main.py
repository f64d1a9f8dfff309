"""The `newsrec` command: synth, train, evaluate, predict, demo (+ LLM commands in cli/llm.py, the
service's in cli/service.py, the live loop's in cli/live.py, data import in cli/data.py)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from newsrec.cli.console import console, print_metrics
from newsrec.cli.data import data_app
from newsrec.cli.errors import CommandError, ReportingGroup
from newsrec.cli.live import register as register_live_commands
from newsrec.cli.llm import register as register_llm_commands
from newsrec.cli.service import register as register_service_commands
from newsrec.cli.settings_options import settings_options
from newsrec.data.behaviors import Behaviors, BehaviorsFiles, NewsIds
from newsrec.data.datasets import DatasetFolder, dataset_kinds, open_dataset
from newsrec.data.mind import parse_time, read_news
from newsrec.data.missing_news import drop_missing_news, news_used_by
from newsrec.data.synthetic import SyntheticWorldConfig, write_world
from newsrec.device import DEVICE_HELP, resolve_device
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.prediction import write_predictions
from newsrec.evaluation.report import compare_with_baselines
from newsrec.models.ensemble import FUSIONS, fit_ensemble, load_scorer
from newsrec.models.ranker import Ranker
from newsrec.progress import on_terminal, progress
from newsrec.training.config import TrainConfig, load_config
from newsrec.training.recipe import train as run_training

app = typer.Typer(
    help="newsrec: PLM-based personalized news recommendation on MIND-format data.",
    cls=ReportingGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

NewsOpt = Annotated[Path, typer.Option("--news", help="news.tsv, or a folder holding it")]
SourceNewsOpt = Annotated[Path | None, typer.Option("--news", help="news.tsv, or a folder holding it")]
DatasetOpt = Annotated[
    str | None,
    typer.Option(
        help=f"KIND:PATH ({', '.join(dataset_kinds())}) instead of --news and --behaviors: read in place "
        "(mind) or imported once into the cache (`newsrec data import` writes the same files)",
        show_default=False,
    ),
]
CacheOpt = Annotated[
    Path | None, typer.Option(help=escape("embedding cache file [default: $NEWSREC_CACHE_DIR or ~/.cache/newsrec]"))
]
DeviceOpt = Annotated[str, typer.Option(help=f"where the encoder and the recommender run: {DEVICE_HELP}")]


# loggers of libraries that speak at INFO about their own set-up (alembic's "setup plugin ..." lines)
QUIET_UNLESS_VERBOSE = ("alembic", "httpx", "httpx2", "urllib3", "transformers", "filelock", "jieba", "faiss")


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s" if on_terminal() else "%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        # rich on a terminal; plain lines in a log file (rich would wrap them at 80 columns there)
        handlers=[
            RichHandler(console=Console(stderr=True), show_path=False) if on_terminal() else logging.StreamHandler()
        ],
    )
    for noisy in QUIET_UNLESS_VERBOSE:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="folder to write news.tsv, train/, dev/, world.json")],
    n_news: int = 1500,
    n_users: int = 400,
    seed: int = 7,
) -> None:
    """Write a synthetic news world (users with known hidden interests) in MIND format."""
    write_world(out, SyntheticWorldConfig(n_news=n_news, n_users=n_users, seed=seed))
    console.print(f"wrote a synthetic world of {n_news} news and {n_users} users to {out}")


@app.command()
@settings_options
def train(
    out: Annotated[Path, typer.Option(help="model folder to write")],
    news: SourceNewsOpt = None,
    behaviors: Annotated[
        list[Path] | None, typer.Option(help="training behaviors.tsv (or folder); repeat for more")
    ] = None,
    valid: Annotated[Path | None, typer.Option(help="validation behaviors.tsv for early stopping")] = None,
    dataset: DatasetOpt = None,
    cache: CacheOpt = None,
    restart: Annotated[bool, typer.Option(help="ignore a checkpoint in --out and start over")] = False,
    until: Annotated[
        str | None, typer.Option(help="train on the impressions before this time only (untimed ones stay)")
    ] = None,
    init: Annotated[
        Path | None, typer.Option(help="start from the weights of this trained (e.g. served) model")
    ] = None,
    device: DeviceOpt = "auto",
    *,
    settings: TrainConfig,
) -> None:
    """Train a recommender on MIND clicks (resumes automatically if --out holds a stopped run).

    Every setting is a flag below, a --set NAME=VALUE pair or a line of a --config file
    (precedence in that order). Run it under `torchrun --nproc_per_node=N` for data-parallel
    training in N processes, each reading its own part of the logs. `--dataset KIND:PATH` trains
    on its train/ split and validates on its dev/ split where it has one.
    """
    if dataset:
        folder = open_dataset(dataset)
        news, behaviors = folder.news, [folder.split("train")]
        valid = valid or (folder.split("dev") if folder.has("dev") else None)
    if news is None or not behaviors:
        raise CommandError("give --news and --behaviors (MIND files), or --dataset KIND:PATH")
    result = run_training(
        settings,
        read_news(news),
        BehaviorsFiles(tuple(behaviors), until=parse_time(until) if until else None),
        out,
        valid_impressions=BehaviorsFiles((valid,)) if valid else None,
        cache=EmbeddingCache(cache),
        restart=restart,
        init=init,
        device=device,
    )
    console.print(f"best epoch {result.best_epoch}; model saved to {out}")
    if result.best_valid:
        print_metrics({"newsrec (best epoch)": result.best_valid}, "validation")


def _dataset_files(
    dataset: str | None, news: Path | None, behaviors: Path | None, split: Callable[[DatasetFolder], Path]
) -> tuple[Path, Path]:
    """--news and --behaviors, or --dataset's news and its `split` (--behaviors still wins)."""
    if dataset:
        folder = open_dataset(dataset)
        news, behaviors = folder.news, behaviors or split(folder)
    if news is None or behaviors is None:
        raise CommandError("give --news and --behaviors (MIND files), or --dataset KIND:PATH")
    return news, behaviors


def _load_for_scoring(model: Path, news: Path, behaviors: Path, cache: Path | None, device: str):
    """Read the files and load the model with vectors for just the news these impressions use."""
    news_items = read_news(news)
    impressions = Behaviors.read(behaviors)
    embedding_cache = EmbeddingCache(cache)
    ranker = load_scorer(model, news_used_by(impressions, news_items), embedding_cache, str(resolve_device(device)))
    return news_items, impressions, ranker, embedding_cache


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option(help="model folder from `newsrec train`")],
    news: SourceNewsOpt = None,
    behaviors: Annotated[Path | None, typer.Option(help="labelled behaviors.tsv (or folder)")] = None,
    dataset: DatasetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    cache: CacheOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Score a labelled behaviors file (--dataset: its dev/ split) with the model and every baseline."""
    news, behaviors = _dataset_files(dataset, news, behaviors, DatasetFolder.labelled_split)
    news_items, impressions, ranker, embedding_cache = _load_for_scoring(model, news, behaviors, cache, device)
    results = compare_with_baselines(ranker, news_items, impressions, embedding_cache)
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        print_metrics(results, f"{behaviors}")


@app.command()
def predict(
    model: Annotated[Path, typer.Option(help="model folder from `newsrec train`")],
    out: Annotated[
        Path, typer.Option(help="prediction.txt to write; a .zip holds it as <name>.txt (the leaderboards take that)")
    ],
    news: SourceNewsOpt = None,
    behaviors: Annotated[Path | None, typer.Option(help="behaviors.tsv (or folder), labelled or not")] = None,
    dataset: DatasetOpt = None,
    cache: CacheOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Write MIND leaderboard predictions (prediction.txt): each impression id with its candidates' ranks.

    The file is read twice in chunks (which news it names, then the scores), never whole.
    --dataset ranks its test/ split (else dev/)."""
    news, behaviors = _dataset_files(dataset, news, behaviors, DatasetFolder.unlabelled_split)
    news_items, used, missing, total = read_news(news), NewsIds(), 0, 0
    for chunk in Behaviors.stream(behaviors, news=used):
        known = np.array([news_id in news_items for news_id in used.ids], dtype=bool)
        missing += int((~known[chunk.candidates]).sum())
        total += len(chunk)
    if missing:
        console.print(f"[yellow]{missing} candidates are missing from {news}: they are ranked last[/]")
    named = {i: news_items[i] for i in used.ids if i in news_items}
    ranker = load_scorer(model, named, EmbeddingCache(cache), str(resolve_device(device)))
    chunks = progress(Behaviors.stream(behaviors, news=used), "predicting", "impressions", total=total, by=len)
    lines = write_predictions(out, (pair for chunk in chunks for pair in zip(chunk, ranker.score(chunk))))
    console.print(f"wrote {lines} rankings to {out}")


@app.command()
def ensemble(
    model: Annotated[list[Path], typer.Option(help="trained model folder; repeat for each member")],
    news: NewsOpt,
    out: Annotated[Path, typer.Option(help="ensemble folder to write (use it as --model in evaluate/predict)")],
    fusion: Annotated[str, typer.Option(help=" | ".join(FUSIONS))] = "mean",
    tune_on: Annotated[
        Path | None, typer.Option(help="labelled behaviors to tune weights / the fusion layer on")
    ] = None,
    cache: CacheOpt = None,
) -> None:
    """Fuse several trained models (e.g. one per encoder) into one scorer."""
    if len(model) < 2:
        raise CommandError("give at least two --model folders")
    if fusion != "mean" and tune_on is None:
        raise CommandError(f"--fusion {fusion} learns from clicks: give --tune-on BEHAVIORS (a labelled file)")
    news_items = read_news(news)
    logged = Behaviors.read(tune_on) if tune_on else Behaviors.from_impressions([])
    used = news_used_by(logged, news_items) if len(logged) else news_items
    embedding_cache = EmbeddingCache(cache)
    members = [Ranker.load(m, used, embedding_cache) for m in model]
    impressions = drop_missing_news(logged, news_items, require_click=True)[0]
    fitted = fit_ensemble(members, [str(m.resolve()) for m in model], fusion, impressions)
    fitted.save(out)
    weights = ", ".join(f"{w:.2f}" for w in fitted.weights) if fusion == "weights" else fusion
    console.print(f"ensemble of {len(model)} models ({weights}) written to {out}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="working folder")] = Path("runs/demo"),
    news: Annotated[Path | None, typer.Option(help="MIND news.tsv; default: a synthetic world")] = None,
    behaviors: Annotated[list[Path] | None, typer.Option(help="MIND training behaviors")] = None,
    valid: Annotated[Path | None, typer.Option(help="MIND dev behaviors")] = None,
    users: int = 3,
    epochs: int = 6,
    cache: CacheOpt = None,
) -> None:
    """The main job: build a world (or read MIND files), train, evaluate, recommend with reasons."""
    if news is None:
        world = write_world(out / "world")
        news, behaviors, valid = world / "news.tsv", [world / "train"], world / "dev"
        console.print(f"[bold]1. synthetic world[/] written to {world}")
    elif not behaviors or valid is None:
        raise CommandError("with --news, also give --behaviors (training) and --valid (dev)")
    news_items, dev = read_news(news), Behaviors.read(valid)
    embedding_cache = EmbeddingCache(cache)
    console.print("[bold]2. training[/] (frozen all-MiniLM-L6-v2, NRMS user encoder, bilinear + popularity)")
    run_training(
        load_config(epochs=epochs),
        news_items,
        Behaviors.read([*behaviors]),
        out / "model",
        valid_impressions=dev,
        cache=embedding_cache,
        restart=True,
    )
    ranker = Ranker.load(out / "model", news_items, embedding_cache)
    console.print("[bold]3. evaluation[/] on the dev impressions, beside the baselines")
    print_metrics(compare_with_baselines(ranker, news_items, dev, embedding_cache), str(valid))
    console.print(f"[bold]4. top-5 recommendations[/] from all {len(ranker.table)} news, with reasons")
    for imp in [i for i in dev if i.history][:users]:
        console.print(
            f"\n[bold cyan]{escape(imp.user_id)}[/] read {len(imp.history)} items, latest: "
            f"{escape(repr(news_items[imp.history[-1]].title))}"
        )
        for rank, (news_id, score, reason) in enumerate(ranker.recommend(imp.history, k=5), 1):
            n = news_items[news_id]
            console.print(escape(f"  {rank}. [{n.category}] {n.title}  (score {score:.2f})"))
            console.print(f"     {escape(reason.sentence(news_items, n.title))}")
    console.print(f"\ndemo finished; model in {out / 'model'}")


register_llm_commands(app)
register_service_commands(app)
register_live_commands(app, console)
app.add_typer(data_app, name="data")

if __name__ == "__main__":
    app()
