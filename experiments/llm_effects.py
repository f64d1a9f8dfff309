"""Does the LLM help ranking? Dev metrics with and without LLM summaries in the news text, and
with and without an LLM-written profile on the user side (docs/RESULTS.md).

Steps: train the default model, and the same with `--enrichment` (news text = title, summary,
abstract); evaluate both on the first N dev impressions; then write a profile for each of
those users from their history (LLM, cached) and score with the profile fused into the user
vector.

Usage: python experiments/llm_effects.py --mind ../shared/data/mind-sample \
           --enrichment runs/enrich.jsonl --impressions 300 --profiles 100 --out runs/llm-effects
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm.auto import tqdm

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.data.missing_news import drop_missing_news, news_used_by
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.evaluate import HEADLINE_METRICS, evaluate_scores
from newsrec.llm.backends import load_llm
from newsrec.llm.cache import LLMCache
from newsrec.llm.enrich import read_enrichments
from newsrec.llm.profiles import build_profile
from newsrec.models.ranker import Ranker
from newsrec.training.config import load_config
from newsrec.training.recipe import train

METRICS = HEADLINE_METRICS


def row(name: str, m: dict) -> str:
    return f"| {name} | " + " | ".join(f"{100 * m[k]:.2f}" for k in METRICS) + f" | {m['impressions']} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mind", type=Path, required=True)
    parser.add_argument("--enrichment", type=Path, required=True)
    parser.add_argument("--impressions", type=int, default=300)
    parser.add_argument("--profiles", type=int, default=100, help="dev impressions that get an LLM profile")
    parser.add_argument(
        "--profile-llm",
        default="qwen2.5-coder-1.5b",
        help="writes the profiles (SmolLM2-135M degenerates on this task)",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/llm-effects"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    news = read_news(args.mind)
    train_imps = read_behaviors(args.mind / "train") + read_behaviors(args.mind / "train-extra")
    dev, _ = drop_missing_news(read_behaviors(args.mind / "dev")[: args.impressions], news, require_click=True)
    enriched = read_enrichments(args.enrichment)
    llm_share = sum(e.from_llm for e in enriched.values()) / max(1, len(enriched))
    cache = EmbeddingCache()

    coverage = {
        name: (sum(i in enriched for i in used), len(used))
        for name, used in (("dev", news_used_by(dev, news)), ("training", news_used_by(train_imps, news)))
    }
    lines = [
        f"{len(enriched)} news enriched ({100 * llm_share:.0f}% valid LLM output, the rest title fallback); "
        + "; ".join(f"{name} news covered: {k:,} of {n:,} ({100 * k / n:.0f}%)" for name, (k, n) in coverage.items())
        + ".",
        "",
        "| setting | AUC | MRR | nDCG@5 | nDCG@10 | impressions |",
        "|---|---|---|---|---|---|",
    ]
    rankers = {}
    for name, overrides in (
        ("title + abstract (default)", {}),
        (
            "title + LLM summary + abstract",
            {"enrichment": str(args.enrichment), "news_fields": ["title", "summary", "abstract"]},
        ),
    ):
        out = args.out / ("enriched" if overrides else "plain")
        train(load_config(**overrides), news, train_imps, out, valid_impressions=dev, cache=cache, restart=True)
        rankers[name] = ranker = Ranker.load(out, news, cache)
        lines.append(row(name, evaluate_scores(dev, ranker.score(dev), news, ranker.popularity.clicks_at_end())))

    ranker = rankers["title + abstract (default)"]
    subset = [i for i in dev if i.history][: args.profiles]
    llm, llm_cache = load_llm(args.profile_llm), LLMCache()
    written = {
        imp.user_id: build_profile(llm, [news[h] for h in imp.history if h in news], cache=llm_cache)
        for imp in tqdm(subset, desc="profiles", unit="user")
    }
    profiles = {u: f"{p.profile} Interests: {', '.join(p.topics)}." for u, p in written.items()}
    lines += [
        "",
        f"User side, {len(subset)} dev impressions with history, default model:",
        "",
        "| setting | AUC | MRR | nDCG@5 | nDCG@10 | impressions |",
        "|---|---|---|---|---|---|",
        row("history only", evaluate_scores(subset, ranker.score(subset), news, ranker.popularity.clicks_at_end())),
    ]
    for weight in (0.15, 0.3):
        scores = ranker.score(subset, profiles, text_weight=weight)
        lines.append(
            row(
                f"history + LLM profile (weight {weight})",
                evaluate_scores(subset, scores, news, ranker.popularity.clicks_at_end()),
            )
        )
    by_llm = [u for u, p in written.items() if p.from_llm]
    lines += [
        "",
        f"{len(by_llm)} of {len(written)} profiles written by {args.profile_llm} "
        "(the rest: the category-count fallback).",
        f'Example: "{profiles[by_llm[0]] if by_llm else ""}"',
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
