"""LLM commands of `newsrec`: enrich, paraphrase, profile, recommend (with explanations)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from newsrec.cli.console import console, notices
from newsrec.cli.errors import CommandError
from newsrec.cli.long_work import run_announced
from newsrec.data.behaviors import read_all_behaviors
from newsrec.data.mind import News, read_news
from newsrec.data.missing_news import news_used_by
from newsrec.encoders.cache import EmbeddingCache
from newsrec.llm.backends import AUTO, LanguageLLMs, Task
from newsrec.llm.cache import LLMCache
from newsrec.llm.writing import Writing
from newsrec.progress import Progress, progress

if TYPE_CHECKING:
    from newsrec.models.reason import Reason

__all__ = ["register", "COMMANDS", "enrich", "paraphrase", "profile", "recommend"]

LLMOpt = Annotated[
    str,
    typer.Option(
        "--llm",
        help="auto (the measured best local model for the task and language; NEWSREC_LLM_MODELS "
        "overrides it), a local model (smollm2, gemma3-270m, qwen2.5-coder-1.5b) or a server URL",
    ),
]
LLMModelOpt = Annotated[str, typer.Option("--llm-model", help="model name to send to a server")]


NewsFileOpt = Annotated[Path, typer.Option("--news", help="news.tsv, or a folder holding it")]
OnlyUsedByOpt = Annotated[list[Path] | None, typer.Option("--behaviors", help="only news these impressions use")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="at most this many news")]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="start long work without asking (the estimate is still shown)")
]


# what `enrich` and `paraphrase` do to one item: its result, and the cache key a finished one has
OneItem = Callable[[LanguageLLMs, News, LLMCache], Any]
ItemKey = Callable[[LanguageLLMs, News], str]
UNITS: dict[Task, tuple[str, str]] = {"enrich": ("enriching", "news"), "paraphrase": ("paraphrasing", "titles")}


def _each_news(
    task: Task, items: list[News], models: LanguageLLMs, cache: LLMCache, one: OneItem, key: ItemKey, yes: bool
) -> list[Any]:
    """`one` for each item, announced (`run_announced`): items a rerun finds in the cache are done."""
    return run_announced(
        items,
        lambda n: one(models, n, cache),
        lambda n: cache.get(key(models, n)) is not None,
        lambda todo: _load_for(models, task, todo),
        *UNITS[task],
        yes,
    )


def _load_for(models: LanguageLLMs, task: Task, todo: list[News]) -> None:
    """Load the model of each language in `todo` before the first items are timed."""
    for language in sorted({Writing.of(n.title).language for n in todo}):
        notices.print(f"loading {models.model_id(task, language)} for {task} in {language}")
        models.for_task(task, language)


def _news_subset(news: Path, behaviors: list[Path] | None, limit: int | None) -> list[News]:
    """The news of `news`, only those `behaviors` use if given, at most `limit`."""
    items = read_news(news)
    if behaviors:
        items = news_used_by(read_all_behaviors([*behaviors]), items)
    return list(items.values())[:limit]


def enrich(
    news: NewsFileOpt,
    out: Annotated[Path, typer.Option(help="JSONL of {news_id, summary, keywords, from_llm}")],
    llm: LLMOpt = AUTO,
    llm_model: LLMModelOpt = "default",
    behaviors: OnlyUsedByOpt = None,
    limit: LimitOpt = None,
    cached_only: Annotated[
        bool, typer.Option(help="write only what earlier (stopped) runs finished; generate nothing")
    ] = False,
    yes: YesOpt = False,
) -> None:
    """Summarise each news item in one sentence with 3-5 keywords (about 2 min each with the
    default model on 2 cores: it says its estimate first). Stop any time: a rerun resumes."""
    from newsrec.llm.enrich import cached_enrichment, enrich_key, enrich_one, write_enrichments

    items, models, cache = _news_subset(news, behaviors, limit), LanguageLLMs(llm, llm_model), LLMCache()
    if cached_only:
        found = {n.news_id: cached_enrichment(models, n, cache) for n in items}
        enrichments = {i: e for i, e in found.items() if e is not None}
    else:
        done = _each_news("enrich", items, models, cache, enrich_one, enrich_key, yes)
        enrichments = {n.news_id: e for n, e in zip(items, done)}
    write_enrichments(out, enrichments)
    fallbacks = sum(not e.from_llm for e in enrichments.values())
    console.print(f"enriched {len(enrichments)} of {len(items)} news ({fallbacks} fell back to the title) -> {out}")
    console.print(f"use it: newsrec train ... --enrichment {out} --news-fields title,summary,abstract")


def paraphrase(
    news: NewsFileOpt,
    out: Annotated[Path, typer.Option(help="JSONL of {news_id, title}")],
    llm: LLMOpt = AUTO,
    llm_model: LLMModelOpt = "default",
    behaviors: OnlyUsedByOpt = None,
    limit: LimitOpt = None,
    yes: YesOpt = False,
) -> None:
    """Rewrite titles for training augmentation (newsrec train --paraphrases FILE --paraphrase-prob P);
    about 15 s a title with the default model on 2 cores: it says its estimate first."""
    from newsrec.llm.paraphrase import paraphrase_key, paraphrase_one, write_paraphrases

    items, models, cache = _news_subset(news, behaviors, limit), LanguageLLMs(llm, llm_model), LLMCache()
    done = _each_news("paraphrase", items, models, cache, paraphrase_one, paraphrase_key, yes)
    titles = {n.news_id: title for n, title in zip(items, done) if title is not None}
    write_paraphrases(out, titles)
    console.print(f"paraphrased {len(titles)} of {len(items)} titles -> {out}")


def profile(
    user: Annotated[str, typer.Argument(help="user id (for MIND rows without one: imp-<impression id>)")],
    news: NewsFileOpt,
    behaviors: Annotated[list[Path], typer.Option(help="behaviors.tsv holding the user's history")],
    text: Annotated[list[str] | None, typer.Option(help="texts the user wrote (comments, 'what I like')")] = None,
    llm: LLMOpt = AUTO,
    llm_model: LLMModelOpt = "default",
) -> None:
    """Write a user's interest profile in plain words, with interest topics (JSON)."""
    from newsrec.llm.profiles import build_profile

    items = read_news(news)
    history = _latest_history(user, behaviors, required=not text)
    read = [items[h] for h in history if h in items]
    with Progress("writing the profile (up to 3 tries)", 1, "profiles") as bar:
        result = build_profile(LanguageLLMs(llm, llm_model), read, text or [], LLMCache())
        bar.update()
    print(json.dumps({"user_id": user, **result.model_dump()}, indent=2))


def recommend(
    model: Annotated[Path, typer.Option(help="model folder from `newsrec train`")],
    news: Annotated[Path, typer.Option(help="news.tsv: the pool to recommend from")],
    user: Annotated[str | None, typer.Option(help="user whose latest history to use")] = None,
    behaviors: Annotated[list[Path] | None, typer.Option(help="behaviors.tsv holding --user")] = None,
    interests: Annotated[str | None, typer.Option(help="free text, e.g. 'I follow the NBA and electric cars'")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="how many to recommend")] = 5,
    llm: Annotated[
        str | None, typer.Option("--llm", help="phrase explanations with this LLM (as for enrich, e.g. auto)")
    ] = None,
    llm_model: LLMModelOpt = "default",
    as_json: Annotated[
        bool, typer.Option("--json", help="print a JSON list of {news_id, title, score, explanation, ...}")
    ] = False,
) -> None:
    """Top-k news for a user (history, description or both), each with an explanation.

    An LLM's explanation quotes the item and what you read or said, and names what links
    them; it is shown only when it passes every check (no fact of its own, none joined across
    stories); otherwise the template is shown (and counted)."""
    from newsrec.models.ranker import Ranker

    items = read_news(news)
    history = _latest_history(user, behaviors or []) if user else []
    ranker = Ranker.load(model, items, EmbeddingCache())
    if not history and not interests:
        console.print("[yellow]no history and no --interests: recommending by popularity and the learned prior[/]")
    topics = [t.strip() for t in (interests or "").replace(" and ", ",").split(",") if t.strip()]
    generator = LanguageLLMs(llm, llm_model) if llm else None
    listed = _explained(ranker.recommend(history, k, interests or "", topics), items, generator)
    if as_json:
        print(json.dumps(listed, ensure_ascii=False, indent=2))
    else:
        _print_recommendations(listed, asked_llm=generator is not None)


def _latest_history(user: str, behaviors: list[Path], required: bool = True) -> list[str]:
    """The user's longest (latest) history in `behaviors`; a missing user is an error if `required`."""
    impressions = read_all_behaviors(behaviors)
    rows = [i for i in impressions if i.user_id == user]
    if not rows and required:
        where = f"user {user} not found in {', '.join(map(str, behaviors))}"
        if any(i.user_id == f"imp-{user}" for i in impressions):
            raise CommandError(
                f"{where}: did you mean imp-{user}? (a MIND row without a user id is read as imp-<its id>)"
            )
        raise CommandError(f"{where}: give --behaviors holding them, or only --interests")
    return max((r.history for r in rows), key=len, default=[])


def _explained(
    top: list[tuple[str, float, Reason]], items: dict[str, News], generator: LanguageLLMs | None
) -> list[dict[str, Any]]:
    """Each recommended item as a row of `recommend --json`: the LLM's explanation if it passes, else the template."""
    from newsrec.llm.explain import explain

    listed = []
    for news_id, score, reason in progress(top, "explaining", "items", enabled=generator is not None):
        said = explain(generator, reason, items[news_id], items, LLMCache())
        listed.append(
            {
                "news_id": news_id,
                "title": items[news_id].title,
                "category": items[news_id].category,
                "score": round(score, 4),
                "explanation": said.text,
                "explained_by": "llm" if said.by_llm else "template",
                "llm_problems": said.problems,
            }
        )
    return listed


def _print_recommendations(listed: list[dict[str, Any]], asked_llm: bool) -> None:
    for rank, row in enumerate(listed, 1):
        console.print(escape(f"{rank}. [{row['category']}] {row['title']}  (score {row['score']:.2f})"))
        console.print(f"   {escape(str(row['explanation']))}")
    if asked_llm:
        withheld = sum(row["explained_by"] == "template" for row in listed)
        console.print(
            f"[dim]{withheld} of {len(listed)} explanations by the template (the LLM's withheld or unasked)[/]"
        )


COMMANDS = (enrich, paraphrase, profile, recommend)  # in the order `newsrec --help` lists them


def register(app: typer.Typer) -> None:
    """Add the LLM commands to `app`, each under its function's name."""
    for command in COMMANDS:
        app.command()(command)
