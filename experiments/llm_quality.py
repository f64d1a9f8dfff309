"""How much does each packaged LLM write, and how much of what is shown is faulty? (docs/RESULTS.md)

For each model and task, on N items of a MIND-format sample (English: the MIND sample; Chinese:
its xMIND twin), with no LLM cache:
- written by the LLM: the share of items whose shown text is the LLM's (it passed every check
  of the product); the rest get the template (explanations) or the counted fallback;
- faulty (judge): the share of the shown LLM texts that `experiments/judge.py`, which shares no
  code with the product's checks, finds faulty: a number or name in no source, facts merged
  across sources, a copied title, an explanation that does not name its story; for
  explanations also the share of raw replies (before the product's checks);
- seconds per item (generation included), with the 1-minute load average at the start and end.

Items: explanations: the top recommendation (by --model) of each of the first N dev readers
with a history; profiles: those readers' histories; paraphrases and summaries: N news those
readers were shown. Sources, as each task defines them: explanations: the recommended item
(title, abstract, tags) and each matched read title; profiles: each read title; paraphrases:
the title; summaries: the item.

Every item's texts and raw explanation reply are written to --record (JSON lines), for the
recorded-reply tests and the hand-read samples; `--rejudge FILE...` judges recorded items
again (after a change of the judge) and prints the faulty counts per model and task.

Usage: python experiments/llm_quality.py --mind ../shared/data/mind-sample --model runs/mind \
           --llm gemma3-270m [--llm smollm2 ...] [--n 100] [--tasks explain paraphrase summary profile] \
           [--record runs/llm-quality.jsonl]
       python experiments/llm_quality.py --rejudge runs/llm-quality.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from judge import judge

from newsrec.data.behaviors import read_behaviors
from newsrec.data.categories import tag_name
from newsrec.data.language import detect_language, in_script, script_of
from newsrec.data.mind import News, read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.llm.backends import load_llm
from newsrec.llm.enrich import enrich_one
from newsrec.llm.explain import explain
from newsrec.llm.paraphrase import paraphrase_titles
from newsrec.llm.profiles import build_profile
from newsrec.models.ranker import Ranker

TASKS = ("explain", "profile", "paraphrase", "summary")


@dataclass
class Made:
    """One item's outcome: the texts shown, whether the LLM wrote them, and what the judge reads them against."""

    texts: list[str]
    by_llm: bool
    sources: list[str]
    story: str = ""
    titles: tuple[str, ...] = ()
    reply: str | None = None  # an explanation's raw reply, shown or not
    facts: dict = field(default_factory=dict)  # what a recorded-reply test needs to ask again


def measure(task: str, items: list, make: Callable[[object], Made], record: Path | None, model: str) -> dict:
    """Run `make` on each item; the table row's figures."""
    written = faulty = raw = raw_faulty = 0
    load = [os.getloadavg()[0]]
    started = time.perf_counter()
    for item in items:
        made = make(item)
        faults = [f for t in made.texts for f in judge(t, made.sources, task, made.story, made.titles).faults]
        if made.by_llm:
            written += 1
            faulty += bool(faults)
        if made.reply is not None and made.reply:
            raw += 1
            raw_faulty += judge(made.reply, made.sources, task, made.story, made.titles).faulty
        if record:
            line = {"model": model, "task": task, "texts": made.texts, "by_llm": made.by_llm, "faults": faults,
                    "sources": made.sources, "story": made.story, "titles": list(made.titles), "reply": made.reply,
                    **made.facts}  # fmt: skip
            with record.open("a") as f:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
    load.append(os.getloadavg()[0])
    return {
        "items": len(items),
        "written": written / max(len(items), 1),
        "faulty": faulty / max(written, 1),
        "faulty_count": faulty,
        "raw_faulty": raw_faulty / raw if raw else None,
        "seconds_per_item": (time.perf_counter() - started) / max(len(items), 1),
        "load": [round(x, 1) for x in load],
    }


def rejudge(records: list[Path]) -> None:
    """Print, per model and task of the recorded items, how many shown LLM texts the judge finds faulty now."""
    rows = [json.loads(line) for path in records for line in path.read_text().splitlines()]
    for model, task in dict.fromkeys((r["model"], r["task"]) for r in rows):
        mine = [r for r in rows if (r["model"], r["task"]) == (model, task)]
        shown = [r for r in mine if r["by_llm"]]
        faulty = [
            r for r in shown if any(judge(t, r["sources"], task, r["story"], r["titles"]).faulty for t in r["texts"])
        ]
        print(f"{model} {task}: {len(mine)} items, {len(shown)} by the LLM, {len(faulty)} faulty")
        for r in faulty:
            print("   ", r["texts"][0][:160])


def export(records: list[Path], out: Path) -> None:
    """The explanation records as tests/llm/data keeps them: each quoted title replaced by
    {story} or {read:N} (the test puts the sample's titles back), so no news text is committed."""
    with out.open("w") as f:
        for r in (json.loads(line) for path in records for line in path.read_text().splitlines()):
            if r["task"] != "explain":
                continue
            reply = r["reply"] or ""
            for title, mark in [(r["story"], "{story}"), *((t, f"{{read:{i}}}") for i, t in enumerate(r["titles"]))]:
                reply = reply.replace(f"“{title}”", f"“{mark}”").replace(f"「{title}」", f"「{mark}」")
            row = {k: r[k] for k in ("model", "news_id", "matched", "by_llm")}
            row |= {"language": detect_language(r["story"]), "reply": reply}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def tags(item: News) -> str:
    """An item's category and subcategory, as tags and as named in the language of its title."""
    language, script = detect_language(item.title), script_of(item.title)
    return " ".join(
        [
            item.category,
            item.subcategory,
            *(in_script(tag_name(t, language) or "", script) for t in (item.category, item.subcategory) if t),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, default=Path("../shared/data/mind-sample"))
    parser.add_argument("--model", type=Path, help="a model trained on the sample (newsrec train)")
    parser.add_argument("--llm", action="append", default=[], help="local model name; repeat")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--out", type=Path, default=Path("runs/llm-quality.json"))
    parser.add_argument("--record", type=Path, help="append every item's texts here (JSON lines)")
    parser.add_argument("--rejudge", type=Path, nargs="+", help="judge these recorded items again, and stop")
    parser.add_argument("--export", type=Path, help="with --rejudge: write their explanations here, titles masked")
    args = parser.parse_args()
    if args.rejudge and args.export:
        return export(args.rejudge, args.export)
    if args.rejudge:
        return rejudge(args.rejudge)
    if not (args.model and args.llm):
        parser.error("--model and --llm are needed to measure (or --rejudge FILE...)")

    news = read_news(args.mind)
    language = detect_language(" ".join(n.title for n in list(news.values())[:50]))
    dev = [i for i in read_behaviors(args.mind / "dev") if [h for h in i.history if h in news]]
    users = list({i.user_id: i for i in dev}.values())[: args.n]
    shown = [news[c] for c in dict.fromkeys(c for i in users for c in i.candidates if c in news)][: args.n]
    ranker = Ranker.load(args.model, news, EmbeddingCache())
    top = {u.user_id: ranker.recommend([h for h in u.history if h in news], k=1)[0] for u in users}
    results: dict = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for name in args.llm:
        llm = load_llm(name)

        def explained(user, llm=llm) -> Made:
            news_id, _, reason = top[user.user_id]
            item = news[news_id]
            said = explain(llm, reason, item, news)
            read = tuple(news[h].title for h, _ in reason.matched)
            # the story and the read item the reply quotes (all matched ones when none was asked),
            # each with its tags, named as the explanation names them ("电视明星" for tv-celebrity)
            quoted = [news[h] for h, _ in reason.matched if not said.anchor or news[h].title == said.anchor]
            sources = [f"{n.title} {n.abstract} {tags(n)}" for n in [item, *quoted]]
            facts = {"news_id": news_id, "matched": reason.matched, "problems": said.problems}
            return Made([said.text], said.by_llm, sources, item.title, read, said.reply, facts)

        def profiled(user, llm=llm) -> Made:
            read = [news[h] for h in user.history if h in news]
            profile = build_profile(llm, read)
            sources = [n.title for n in read[-20:]] + [x for n in read[-20:] for x in (n.category, n.subcategory)]
            return Made([profile.profile, *profile.topics], profile.from_llm, sources)

        def paraphrased(item: News, llm=llm) -> Made:
            out = paraphrase_titles(llm, [item])
            return Made([out.get(item.news_id, item.title)], item.news_id in out, [item.title], item.title)

        def summarised(item: News, llm=llm) -> Made:
            e = enrich_one(llm, item)
            source = " ".join([item.title, item.abstract, item.category, item.subcategory])
            return Made([e.summary, *e.keywords], e.from_llm, [source], item.title)

        jobs = {"explain": (users, explained), "profile": (users, profiled), "paraphrase": (shown, paraphrased),
                "summary": (shown, summarised)}  # fmt: skip
        for task in args.tasks:
            items, make = jobs[task]
            row = measure(task, items, make, args.record, name)
            results.setdefault(f"{name} {language}", {})[task] = row
            print(name, language, task, json.dumps(row), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
    print(table(results))


def table(results: dict) -> str:
    lines = [
        "| model | language | task | items | written by the LLM | shown LLM texts faulty (judge) "
        "| raw replies faulty | s per item | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, row in results.items():
        name, language = key.rsplit(" ", 1)
        for task, r in row.items():
            raw = r["raw_faulty"]
            lines.append(
                f"| {name} | {language} | {task} | {r['items']} | {100 * r['written']:.0f}% | "
                f"{100 * r['faulty']:.0f}% ({r['faulty_count']}) | {'-' if raw is None else f'{100 * raw:.0f}%'} "
                f"| {r['seconds_per_item']:.1f} | {r['load'][0]}-{r['load'][1]} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
