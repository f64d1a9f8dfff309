"""A trained model ready to rank: recommender + news vectors + popularity + PLM.

`Ranker.load(model_dir, news)` restores what `newsrec train` saved and encodes any news it
has not seen (through the embedding cache), so new candidates can be ranked at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from newsrec.config import TrainConfig
from newsrec.data.mind import Impression, News
from newsrec.data.popularity import PopularityStats
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import NewsTable
from newsrec.encoders.plm import PLM
from newsrec.models.batch import Row, make_batch
from newsrec.models.recommender import NewsRecommender, RecommenderConfig

__all__ = ["Ranker", "Reason", "MISSING_SCORE", "save_model", "build_plm"]

MISSING_SCORE = -1e9  # candidates with no text in news.tsv are ranked last
MODEL_FILE, CONFIG_FILE, POPULARITY_FILE = "model.pt", "config.json", "popularity.json"


@dataclass
class Reason:
    """The facts behind one recommendation: the history items that matched it most."""

    matched: list[tuple[str, float]]  # (news id, match score), strongest first
    popularity: float  # the popularity term's share of the score

    def sentence(self, news: dict[str, News]) -> str:
        if not self.matched:
            return "Popular with readers right now." if self.popularity > 0 else "Fits your reading profile."
        title = news[self.matched[0][0]].title if self.matched[0][0] in news else self.matched[0][0]
        extra = " and it is popular right now" if self.popularity > 0.5 else ""
        return f"Because you read \"{title}\"{extra}."


def build_plm(config: TrainConfig) -> PLM:
    plm = PLM(config.encoder, config.max_length)
    plm.freeze_all_but_top(config.finetune_layers)
    return plm


def save_model(out_dir: Path, model: NewsRecommender, plm: PLM, config: TrainConfig, stats: PopularityStats) -> None:
    """Write everything `Ranker.load` needs into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plm_trained = {k: v for k, v in plm.named_parameters() if v.requires_grad}
    torch.save(
        {"recommender": model.state_dict(), "recommender_config": model.config.to_dict(), "plm_trained": plm_trained},
        out_dir / MODEL_FILE,
    )
    (out_dir / CONFIG_FILE).write_text(config.model_dump_json(indent=2))
    stats.save(out_dir / POPULARITY_FILE)


class Ranker:
    def __init__(self, model: NewsRecommender, table: NewsTable, stats: PopularityStats, config: TrainConfig):
        self.model = model.eval()
        self.table = table
        self.stats = stats
        self.config = config

    @classmethod
    def load(
        cls, model_dir: str | Path, news: dict[str, News], cache: EmbeddingCache | None = None
    ) -> "Ranker":
        model_dir = Path(model_dir)
        if not (model_dir / MODEL_FILE).is_file():
            raise FileNotFoundError(f"{model_dir} holds no {MODEL_FILE}: train one with `newsrec train --out {model_dir}`")
        config = TrainConfig(**json.loads((model_dir / CONFIG_FILE).read_text()))
        saved = torch.load(model_dir / MODEL_FILE, weights_only=True)
        plm = build_plm(config)
        plm.load_state_dict(saved["plm_trained"], strict=False)
        model = NewsRecommender(RecommenderConfig(**saved["recommender_config"]))
        model.load_state_dict(saved["recommender"])
        table = NewsTable.encode(news, plm, config.news_fields, cache, config.encode_batch_size)
        return cls(model, table, PopularityStats.load(model_dir / POPULARITY_FILE), config)

    @torch.no_grad()
    def score(self, impressions: list[Impression], batch_size: int = 128) -> list[np.ndarray]:
        """One score array per impression, in candidate order; higher = more relevant."""
        out: list[np.ndarray] = []
        for start in range(0, len(impressions), batch_size):
            chunk = impressions[start : start + batch_size]
            batch = make_batch([Row(i.history, i.candidates) for i in chunk], self.table, self.stats, self.config.max_history)
            cand, hist = batch.vectors(self.table)
            scores = self.model(cand, hist, batch.history_mask, batch.popularity)
            scores = scores.masked_fill(~batch.candidate_mask, MISSING_SCORE).numpy()
            out.extend(scores[i, : len(imp.candidates)] for i, imp in enumerate(chunk))
        return out

    @torch.no_grad()
    def reason(self, history: list[str], news_id: str, top: int = 2) -> Reason:
        """Which history items drove `news_id`'s score, and how much popularity added."""
        batch = make_batch([Row(history, [news_id])], self.table, self.stats, self.config.max_history)
        cand, hist = batch.vectors(self.table)
        hist_ids = [self.table.ids[r - 1] for r in batch.history[0][batch.history_mask[0]].tolist()]
        match = self.model.history_match(cand[0, 0], hist[0, : len(hist_ids)]) if hist_ids else torch.zeros(0)
        order = match.argsort(descending=True)[:top].tolist()
        popularity = float(self.model.popularity_score(batch.popularity)[0, 0])
        return Reason([(hist_ids[i], float(match[i])) for i in order], popularity)

    def recommend(self, history: list[str], k: int = 5) -> list[tuple[str, float, Reason]]:
        """Top-k unread news of the whole table for a user with this history."""
        read = set(history)
        pool = [i for i in self.table.ids if i not in read]
        scores = self.score([Impression("", "", "", history, pool)])[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(pool[i], float(scores[i]), self.reason(history, pool[i])) for i in top]
