"""A trained model ready to rank: recommender + news vectors + popularity + PLM.

`Ranker.load(model_dir, news)` restores what `newsrec train` saved and encodes any news it
has not seen (through the embedding cache), so new candidates can be ranked at once.
Users may also be described by text (an LLM profile, their own "what I like"): the text is
encoded by the same PLM and fused with the history vector; with no history it is the user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from newsrec.config import TrainConfig
from newsrec.data.mind import Impression, News
from newsrec.data.popularity import PopularityStats
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.e5 import E5Encoder
from newsrec.encoders.news_table import NewsTable
from newsrec.encoders.packaged import E5_MODEL
from newsrec.encoders.plm import PLM, encode_texts
from newsrec.encoders.tuning import TuningSpec
from newsrec.models.batch import Row, make_batch
from newsrec.models.recommender import NewsRecommender, RecommenderConfig

__all__ = ["Ranker", "Reason", "MISSING_SCORE", "save_model", "build_plm", "prepare_news"]

MISSING_SCORE = -1e9  # candidates with no text in news.tsv are ranked last
MODEL_FILE, CONFIG_FILE, POPULARITY_FILE = "model.pt", "config.json", "popularity.json"
TEXT_WEIGHT = 0.3  # share of an interest text in the user vector when there is also history
WEAK_MATCH = 0.1  # below this cosine-like match an explanation would claim a link that is not there


@dataclass
class Reason:
    """The facts behind one recommendation: what matched it, and how strongly."""

    matched: list[tuple[str, float]]  # (history news id, match score), strongest first
    popularity: float  # the popularity term's part of the score
    topics: list[tuple[str, float]] = field(default_factory=list)  # (interest topic, cosine)

    def sentence(self, news: dict[str, News]) -> str:
        """A template sentence stating these facts (no LLM needed); weak matches are not claimed."""
        popular = " and it is popular with readers" if self.popularity > 0.5 else ""
        strongest = max([s for _, s in self.matched + self.topics], default=0.0)
        if strongest < WEAK_MATCH:
            return "Popular with readers right now." if popular else "Something beyond your usual reading."
        if self.topics and (not self.matched or self.topics[0][1] > self.matched[0][1]):
            topic, strength = self.topics[0]
            return f"Matches your interest \"{topic}\" (match {strength:.2f}){popular}."
        news_id, strength = self.matched[0]
        title = news[news_id].title if news_id in news else news_id
        return f"Because you read \"{title}\" (match {strength:.2f}){popular}."


def build_plm(config: TrainConfig, total_steps: int = 1000) -> PLM | E5Encoder:
    """The news encoder the config names, with its top layers set to learn as configured."""
    if config.encoder == E5_MODEL:
        return E5Encoder(config.max_length)
    plm = PLM(config.encoder, config.max_length, config.quantize)
    if config.finetune_layers:
        plm.tune(TuningSpec(config.finetune_layers, config.tuning, config.lora_rank, config.lora_alpha,
                            config.adapter_size, total_steps))
    return plm


def prepare_news(news: dict[str, News], config: TrainConfig) -> dict[str, News]:
    """Attach the LLM enrichment named in the config, if any (one place for train and predict)."""
    if not config.enrichment:
        return news
    from newsrec.llm.enrich import attach_enrichments, read_enrichments

    return attach_enrichments(news, read_enrichments(config.enrichment))


def save_model(out_dir: Path, model: NewsRecommender, plm: PLM, config: TrainConfig, stats: PopularityStats) -> None:
    """Write everything `Ranker.load` needs into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plm_trained = {k: v for k, v in plm.named_parameters() if v.requires_grad} if isinstance(plm, PLM) else {}
    torch.save(
        {"recommender": model.state_dict(), "recommender_config": model.config.to_dict(), "plm_trained": plm_trained},
        out_dir / MODEL_FILE,
    )
    (out_dir / CONFIG_FILE).write_text(config.model_dump_json(indent=2))
    stats.save(out_dir / POPULARITY_FILE)


class Ranker:
    def __init__(
        self,
        model: NewsRecommender,
        table: NewsTable,
        stats: PopularityStats,
        config: TrainConfig,
        plm: PLM | None = None,
    ):
        self.model = model.eval()
        self.table = table
        self.stats = stats
        self.config = config
        self.plm = plm

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
        if saved["plm_trained"]:
            plm.load_state_dict(saved["plm_trained"], strict=False)
        model = NewsRecommender(RecommenderConfig(**saved["recommender_config"]))
        model.load_state_dict(saved["recommender"])
        news = prepare_news(news, config)
        table = NewsTable.encode(news, plm, config.news_text, cache, config.encode_batch_size)
        return cls(model, table, PopularityStats.load(model_dir / POPULARITY_FILE), config, plm)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """(N,) user texts -> (N, D); empty strings give zero rows. Never cached: users' words are theirs."""
        if self.plm is None:
            raise ValueError("this Ranker has no PLM to encode interest texts: load it with Ranker.load")
        out = torch.zeros(len(texts), self.table.vectors.shape[1])
        given = [i for i, t in enumerate(texts) if t.strip()]
        if given:
            out[given] = torch.from_numpy(encode_texts(self.plm, [texts[i] for i in given]))
        return out

    @torch.no_grad()
    def score(
        self,
        impressions: list[Impression],
        interest_texts: dict[str, str] | None = None,
        text_weight: float = TEXT_WEIGHT,
        batch_size: int = 128,
    ) -> list[np.ndarray]:
        """One score array per impression, in candidate order; higher = more relevant.

        `interest_texts` maps user ids to texts describing them (profile, own description).
        """
        out: list[np.ndarray] = []
        for start in range(0, len(impressions), batch_size):
            chunk = impressions[start : start + batch_size]
            batch = make_batch([Row(i.history, i.candidates) for i in chunk], self.table, self.stats, self.config.max_history)
            cand, hist = batch.vectors(self.table)
            text = self.encode_texts([interest_texts.get(i.user_id, "") for i in chunk]) if interest_texts else None
            scores = self.model(cand, hist, batch.history_mask, batch.popularity, text, text_weight)
            scores = scores.masked_fill(~batch.candidate_mask, MISSING_SCORE).numpy()
            out.extend(scores[i, : len(imp.candidates)] for i, imp in enumerate(chunk))
        return out

    @torch.no_grad()
    def reason(self, history: list[str], news_id: str, topics: list[str] = (), top: int = 2) -> Reason:
        """Which history items and interest topics drove `news_id`'s score, and how much popularity added."""
        batch = make_batch([Row(history, [news_id])], self.table, self.stats, self.config.max_history)
        cand, hist = batch.vectors(self.table)
        hist_ids = [self.table.ids[r - 1] for r in batch.history[0][batch.history_mask[0]].tolist()]
        match = self.model.history_match(cand[0, 0], hist[0, : len(hist_ids)]) if hist_ids else torch.zeros(0)
        order = match.argsort(descending=True)[:top].tolist()
        popularity = float(self.model.popularity_score(batch.popularity)[0, 0])
        topic_match = []
        if topics and self.plm is not None:
            sims = self.encode_texts(list(topics)) @ cand[0, 0]
            topic_match = sorted(((t, float(s)) for t, s in zip(topics, sims)), key=lambda x: -x[1])[:top]
        return Reason([(hist_ids[i], float(match[i])) for i in order], popularity, topic_match)

    def recommend(
        self, history: list[str], k: int = 5, interest_text: str = "", topics: list[str] = ()
    ) -> list[tuple[str, float, Reason]]:
        """Top-k unread news of the whole table for a user with this history (and description)."""
        read = set(history)
        pool = [i for i in self.table.ids if i not in read]
        texts = {"user": interest_text} if interest_text else None
        scores = self.score([Impression("", "user", "", history, pool)], texts)[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(pool[i], float(scores[i]), self.reason(history, pool[i], topics)) for i in top]
