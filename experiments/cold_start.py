"""Cold-start figures for docs/RESULTS.md.

1. Synthetic world (hidden interests known): dev impressions with the history removed and a
   description built from the user's two strongest interests. AUC of description-only vs the
   learned empty-history prior, popularity and random.
2. Real MIND dev: the trained model and baselines on impressions with <= 5 history items vs
   the rest.

Usage: python experiments/cold_start.py --world runs/demo/world --world-model runs/demo/model \
           --mind ../shared/data/mind-sample --mind-model runs/mind
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from newsrec.data.behaviors import read_behaviors
from newsrec.data.mind import read_news
from newsrec.data.missing_news import drop_missing_news
from newsrec.data.synthetic import describe_user
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.baselines import popularity_scorer, random_scorer
from newsrec.evaluation.evaluate import HEADLINE_METRICS, evaluate_scores
from newsrec.evaluation.report import compare_with_baselines
from newsrec.models.ranker import Ranker

METRICS = HEADLINE_METRICS


def row(name: str, m: dict) -> str:
    return f"| {name} | " + " | ".join(f"{100 * m[k]:.2f}" for k in METRICS) + f" | {m['impressions']} |"


def synthetic(world: Path, model_dir: Path) -> list[str]:
    news = read_news(world)
    truth = json.loads((world / "world.json").read_text())["users"]
    dev = [dataclasses.replace(i, history=[]) for i in read_behaviors(world / "dev")]
    ranker = Ranker.load(model_dir, news, EmbeddingCache())
    texts = {i.user_id: describe_user(truth[i.user_id]) for i in dev}
    scorers = {
        "description only (cold start)": lambda imps: ranker.score(imps, texts),
        "no history, no description (learned prior + popularity)": ranker.score,
        "popularity": popularity_scorer(ranker.popularity),
        "random": random_scorer(0),
    }
    lines = [
        f'example description: "{next(iter(texts.values()))}"',
        "",
        "| scorer | AUC | MRR | nDCG@5 | nDCG@10 | impressions |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        row(name, evaluate_scores(dev, s(dev), news, ranker.popularity.clicks_at_end())) for name, s in scorers.items()
    ]
    return lines


def mind_by_history(mind: Path, model_dir: Path) -> list[str]:
    news = read_news(mind)
    dev, _ = drop_missing_news(read_behaviors(mind / "dev"), news, require_click=True)
    ranker = Ranker.load(model_dir, news, EmbeddingCache())
    lines = ["| slice | scorer | AUC | MRR | nDCG@5 | nDCG@10 | impressions |", "|---|---|---|---|---|---|---|"]
    for name, part in (
        ("history <= 5", [i for i in dev if len(i.history) <= 5]),
        ("history > 5", [i for i in dev if len(i.history) > 5]),
    ):
        for scorer, m in compare_with_baselines(ranker, news, part).items():
            lines.append(f"| {name} " + row(scorer, m))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--world-model", type=Path, required=True)
    parser.add_argument("--mind", type=Path)
    parser.add_argument("--mind-model", type=Path)
    args = parser.parse_args()
    print("\n".join(["### Synthetic world, empty histories", "", *synthetic(args.world, args.world_model)]))
    if args.mind and args.mind_model:
        print("\n".join(["", "### MIND dev by history length", "", *mind_by_history(args.mind, args.mind_model)]))


if __name__ == "__main__":
    main()
