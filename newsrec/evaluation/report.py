"""A trained model and every baseline, scored on the same impressions in one run."""

from __future__ import annotations

from collections.abc import Sequence

from newsrec.data.mind import Impression, News
from newsrec.data.missing_news import drop_missing_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.evaluation.baselines import baseline_scorers
from newsrec.evaluation.evaluate import SCORE_CHUNK, MetricTally
from newsrec.evaluation.scorer import Scorer
from newsrec.progress import Progress

__all__ = ["compare_with_baselines"]


def compare_with_baselines(
    scorer: Scorer,
    news: dict[str, News],
    impressions: Sequence[Impression],
    cache: EmbeddingCache | None = None,
    model_name: str = "newsrec (trained)",
) -> dict[str, dict[str, float]]:
    """{scorer name: metrics}: the model first, then random, popularity, CTR, zero-shot PLM.

    Candidates without text are dropped here (as in training), so every scorer sees the
    same lists. Each scorer's "skipped" counts the impressions not judged: left without a click
    or a candidate here, or without a non-click (`MetricTally`).
    """
    impressions, dropped = drop_missing_news(impressions, news, require_click=True)
    clicks = scorer.popularity.clicks_at_end()
    scorers = {model_name: scorer.score, **baseline_scorers(scorer.popularity, scorer.zero_shot_table(news, cache))}
    tallies = {name: MetricTally(news, clicks) for name in scorers}
    with Progress(f"scoring with the model and {len(scorers) - 1} baselines", len(impressions), "impressions") as bar:
        for chunk in impressions.chunks(SCORE_CHUNK):  # scores of one chunk at a time
            for name, score in scorers.items():
                tallies[name].add(chunk, score(chunk))
            bar.update(len(chunk))
    results = {name: tally.result() for name, tally in tallies.items()}
    return {name: {**r, "skipped": r["skipped"] + dropped.impressions_dropped} for name, r in results.items()}
