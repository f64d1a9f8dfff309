"""A trained model and every baseline, scored on the same impressions in one run."""

from __future__ import annotations

from newsrec.data.mind import Impression, News, drop_missing_news
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import NewsTable
from newsrec.encoders.plm import PLM
from newsrec.evaluation.baselines import baseline_scorers
from newsrec.evaluation.evaluate import evaluate_scores
from newsrec.models.ranker import Ranker

__all__ = ["compare_with_baselines"]


def compare_with_baselines(
    ranker: Ranker,
    news: dict[str, News],
    impressions: list[Impression],
    cache: EmbeddingCache | None = None,
    model_name: str = "newsrec (trained)",
) -> dict[str, dict[str, float]]:
    """{scorer name: metrics}: the model first, then random, popularity, CTR, zero-shot PLM.

    Candidates without text are dropped here (as in training), so every scorer sees the
    same lists.
    """
    impressions, _ = drop_missing_news(impressions, news, require_click=True)
    frozen = ranker.table
    if ranker.config.finetune_layers:  # zero-shot means the untouched PLM
        plm = PLM(ranker.config.encoder, ranker.config.max_length)
        frozen = NewsTable.encode({i: news[i] for i in ranker.table.ids}, plm, ranker.config.news_text, cache)
    scorers = {model_name: ranker.score, **baseline_scorers(ranker.stats, frozen)}
    return {name: evaluate_scores(impressions, score(impressions), news, ranker.stats) for name, score in scorers.items()}
