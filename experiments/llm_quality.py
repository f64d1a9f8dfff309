"""How far can each packaged LLM's texts be trusted, per task? (docs/RESULTS.md, "LLM texts")

For each model and task, on N items of the MIND sample (explanations and profiles: the first N
dev users with a history; paraphrases and summaries: the news they were shown):
- accepted: the share of items where the LLM's text passed the checks and is shown;
- unsupported (ours): none of the accepted texts, by construction: `newsrec.llm.grounding` is the
  acceptance rule;
- unsupported (independent): the share of accepted texts holding a number or a capitalised
  word (not opening a sentence) that occurs nowhere in the sources as a plain case-insensitive
  substring: a second rule set sharing no code with the first; for explanations also the
  share of all raw replies (before the check), which is what would be shown without it;
- seconds per item (generation included; no LLM cache).

Sources per task: explanations: the recommended item's title and abstract, the matched read
titles (no interests are given here); profiles: the titles read; paraphrases: the title;
summaries: title, abstract, category.

Every explanation reply is also written to `--record` (JSON lines: model, user, recommended and
matched news ids, the reply, whether it was shown): tests/llm/test_recorded_replies.py checks
the shown ones again against the sample's titles and abstracts.

Usage: python experiments/llm_quality.py --mind ../shared/data/mind-sample --model runs/mind \
           --llm smollm2 [--llm qwen2.5-coder-1.5b ...] [--n 100] [--tasks explain profile paraphrase summary] \
           [--record tests/llm/data/explanation_replies.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import News, read_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.llm.backends import load_llm
from newsrec.llm.enrich import enrich_one
from newsrec.llm.explain import explain
from newsrec.llm.grounding import names_and_numbers_missing
from newsrec.llm.paraphrase import paraphrase_titles
from newsrec.llm.profiles import build_profile
from newsrec.models.ranker import Ranker

TASKS = ("explain", "profile", "paraphrase", "summary")
Made = tuple[str, bool, list[str], str | None]  # text shown, from the LLM?, its sources, the raw reply


def measure(items: list, make: Callable[[object], Made]) -> dict:
    """Run `make` on each item; the table row's figures, with up to three flagged texts as examples."""
    accepted = independent = raw = raw_flagged = 0
    started = time.perf_counter()
    examples: dict[str, list] = {"accepted": [], "withheld": []}
    for item in items:
        text, by_llm, sources, reply = make(item)
        if by_llm:
            accepted += 1
            bad = names_and_numbers_missing(text, sources)
            independent += bool(bad)
            if bad and len(examples["accepted"]) < 3:
                examples["accepted"].append({"text": text, "unsupported": bad})
        if reply is not None:
            raw += 1
            bad = names_and_numbers_missing(reply, sources)
            raw_flagged += bool(bad)
            if bad and not by_llm and len(examples["withheld"]) < 3:
                examples["withheld"].append({"reply": reply, "unsupported": bad})
    return {
        "items": len(items),
        "accepted": accepted / max(len(items), 1),
        "unsupported_independent": independent / max(accepted, 1),
        "raw_unsupported_independent": raw_flagged / raw if raw else None,
        "seconds_per_item": (time.perf_counter() - started) / max(len(items), 1),
        "examples": examples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, default=Path("../shared/data/mind-sample"))
    parser.add_argument("--model", type=Path, required=True, help="a model trained on the sample (newsrec train)")
    parser.add_argument("--llm", action="append", required=True, help="local model name; repeat")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--out", type=Path, default=Path("runs/llm-quality.json"))
    parser.add_argument("--record", type=Path, help="append each explanation reply here (JSON lines)")
    args = parser.parse_args()

    news = read_news(args.mind)
    dev = [i for i in read_behaviors(args.mind / "dev") if [h for h in i.history if h in news]]
    users = list({i.user_id: i for i in dev}.values())[: args.n]
    shown = [news[c] for c in dict.fromkeys(c for i in users for c in i.candidates if c in news)][: args.n]
    ranker = Ranker.load(args.model, news, EmbeddingCache())
    top = {u.user_id: ranker.recommend([h for h in u.history if h in news], k=1)[0] for u in users}
    results: dict = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for name in args.llm:
        llm = load_llm(name)
        row = results.setdefault(name, {})

        def explained(user, llm=llm) -> Made:
            news_id, _, reason = top[user.user_id]
            said, item = explain(llm, reason, news[news_id], news), news[news_id]
            sources = [item.title, item.abstract, *(news[h].title for h, _ in reason.matched)]
            if args.record:
                record = {"model": llm.model_id, "user": user.user_id, "news_id": news_id, "shown": said.by_llm,
                          "matched": [h for h, _ in reason.matched], "reply": said.reply}  # fmt: skip
                with args.record.open("a") as f:
                    f.write(json.dumps(record) + "\n")
            return said.text, said.by_llm, sources, said.reply

        def profiled(user, llm=llm) -> Made:
            read = [news[h] for h in user.history if h in news]
            profile = build_profile(llm, read)
            return " ".join([profile.profile, *profile.topics]), profile.from_llm, [n.title for n in read[-20:]], None

        def paraphrased(item: News, llm=llm) -> Made:
            out = paraphrase_titles(llm, [item])
            return out.get(item.news_id, item.title), item.news_id in out, [item.title], None

        def summarised(item: News, llm=llm) -> Made:
            e = enrich_one(llm, item)
            sources = [item.title, item.abstract, item.category, item.subcategory]
            return " ".join([e.summary, *e.keywords]), e.from_llm, sources, None

        jobs = {"explain": (users, explained), "profile": (users, profiled), "paraphrase": (shown, paraphrased),
                "summary": (shown, summarised)}  # fmt: skip
        for task in args.tasks:
            items, make = jobs[task]
            row[task] = measure(items, make)
            print(name, task, json.dumps({k: v for k, v in row[task].items() if k != "examples"}), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
    print(table(results))


def table(results: dict) -> str:
    lines = [
        "| model | task | items | accepted | accepted texts with an unsupported number or name (independent check) "
        "| raw replies with one | s per item |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        for task, r in row.items():
            raw = r["raw_unsupported_independent"]
            lines.append(
                f"| {name} | {task} | {r['items']} | {100 * r['accepted']:.0f}% | "
                f"{100 * r['unsupported_independent']:.0f}% | {'-' if raw is None else f'{100 * raw:.0f}%'} "
                f"| {r['seconds_per_item']:.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
