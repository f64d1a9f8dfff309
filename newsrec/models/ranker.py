"""A trained model ready to rank: recommender + news vectors + popularity + encoder.

`Ranker.load(model_dir, news)` restores what `newsrec train` saved (`save_model`) and encodes
any news it has not seen (through the embedding cache), so new candidates can be ranked at once.
Users may also be described by text (an LLM profile, their own "what I like"): the text is
encoded by the same encoder and fused with the history vector; with no history it is the user.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from newsrec.data.behaviors import Behaviors
from newsrec.data.mind import Impression, News
from newsrec.data.popularity import Popularity
from newsrec.encoders.base import Encoder
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import NewsTable
from newsrec.encoders.plm import encode_texts
from newsrec.models.batch import Row, make_batch
from newsrec.models.reason import Reason, reason_from_matches
from newsrec.models.recommender import TEXT_WEIGHT, NewsRecommender, RecommenderConfig
from newsrec.models.spec import MAX_DIM, MAX_HEADS, MAX_TOWERS, ModelSpec

__all__ = ["Ranker", "MISSING_SCORE", "save_model", "model_version", "model_files", "MODEL_FILE"]

MISSING_SCORE = -1e9  # candidates with no text in news.tsv are ranked last
VERSION_CHARS = 12  # a model's version: the first characters of its weights' sha256
MODEL_FILE, POPULARITY_FILE = "model.pt", "popularity.json"


def model_version(model_dir: str | Path) -> str:
    """The first characters of the sha256 of a model folder's weights: what names it when served."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} holds no {MODEL_FILE}: train one with `newsrec train --out {model_dir}`")
    with path.open("rb") as f:  # streamed: a big file is not read into memory to name it
        return hashlib.file_digest(f, "sha256").hexdigest()[:VERSION_CHARS]


def model_files(model_dir: str | Path) -> list[Path]:
    """The files `Ranker.load` reads from a model folder (what a deployment copies)."""
    model_dir = Path(model_dir)
    return [model_dir / MODEL_FILE, ModelSpec.path(model_dir), model_dir / POPULARITY_FILE]


def save_model(
    out_dir: Path, model: NewsRecommender, encoder: Encoder, spec: ModelSpec, popularity: Popularity
) -> None:
    """Write everything `Ranker.load` needs into `out_dir`: weights, spec, training-log counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    trained = (
        {k: v for k, v in encoder.named_parameters() if v.requires_grad} if isinstance(encoder, torch.nn.Module) else {}
    )
    torch.save(
        {"recommender": model.state_dict(), "recommender_config": model.config.to_dict(), "plm_trained": trained},
        out_dir / MODEL_FILE,
    )
    spec.save(out_dir)
    popularity.save(out_dir / POPULARITY_FILE)


class Ranker:
    def __init__(
        self,
        model: NewsRecommender,
        table: NewsTable,
        popularity: Popularity,
        spec: ModelSpec,
        encoder: Encoder | None = None,
        version: str = "",
    ):
        self.model = model.eval()
        self.table = table
        self._popularity = popularity
        self.spec = spec
        self.encoder = encoder
        self.version = version  # the saved weights' hash: names the model behind each served answer

    @property
    def device(self) -> torch.device:
        """Where the recommender scores (batches are moved there, scores come back)."""
        return next(self.model.parameters()).device

    @property
    def popularity(self) -> Popularity:
        """Clicks and views in the training logs, as they stood at the logs' end."""
        return self._popularity

    def popularity_at(self, impression: Impression) -> np.ndarray:
        """(N, 5) features of its candidates at its time (the logs' end if earlier or unknown):
        what a served model would compute from its training logs, with no new traffic."""
        return self.popularity.features(impression.candidates, self.popularity.moment_of(impression))

    @classmethod
    def load(
        cls, model_dir: str | Path, news: dict[str, News], cache: EmbeddingCache | None = None, device: str = "cpu"
    ) -> Ranker:
        """The model of `model_dir`, its encoder and recommender on `device`, with vectors of `news`."""
        model_dir = Path(model_dir)
        if not (model_dir / MODEL_FILE).is_file():
            raise FileNotFoundError(
                f"{model_dir} holds no {MODEL_FILE}: train one with `newsrec train --out {model_dir}`"
            )
        spec = ModelSpec.load(model_dir)  # sizes out of bounds are refused here, before anything is built
        saved = torch.load(model_dir / MODEL_FILE, weights_only=True, map_location="cpu")
        if not isinstance(saved, dict) or not {"recommender", "recommender_config", "plm_trained"} <= saved.keys():
            raise ValueError(f"{model_dir / MODEL_FILE} is not a model saved by `newsrec train`")
        config = _bounded(RecommenderConfig.model_validate(saved["recommender_config"]), model_dir)
        encoder = spec.build_encoder(device=device)
        if config.dim != encoder.dim:
            raise ValueError(
                f"{model_dir / MODEL_FILE} reads news vectors of {config.dim} dimensions, its encoder "
                f"{spec.encoder} gives {encoder.dim}: its settings name another encoder than it was trained with"
            )
        if saved["plm_trained"] and isinstance(encoder, torch.nn.Module):
            _load_weights(encoder, saved["plm_trained"], model_dir, strict=False)
        model = NewsRecommender(config)
        _load_weights(model, saved["recommender"], model_dir)
        model.to(device)
        table = NewsTable.encode(spec.prepare_news(news), encoder, spec.news_text, cache, spec.encode_batch_size)
        return cls(model, table, Popularity.load(model_dir / POPULARITY_FILE), spec, encoder, model_version(model_dir))

    @property
    def vector_id(self) -> str:
        """Names the news vectors this model reads: its encoder's weights and the text it encodes
        (fields, Chinese script, stop words, enrichment). Served models share stored vectors only
        when their `vector_id`s are equal, that is when they would compute the same vectors."""
        assert self.encoder is not None, "a model that encodes news has its encoder"
        recipe = hashlib.sha256(f"{self.spec.news_text!r}|{self.spec.enrichment}".encode()).hexdigest()[:12]
        return f"{self.encoder.model_id}|text-{recipe}"

    def encode_news(self, items: Sequence[News], cache: EmbeddingCache | None = None) -> np.ndarray:
        """(N, D) this model's vectors of news items: enrichment attached, its text, through the cache."""
        assert self.encoder is not None, "a model that encodes news has its encoder"
        news = self.spec.prepare_news({n.news_id: n for n in items})
        texts = [self.spec.news_text(news[n.news_id]) for n in items]
        return encode_texts(self.encoder, texts, cache, self.spec.encode_batch_size)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """(N,) user texts -> (N, D); empty strings give zero rows. Never cached: users' words are theirs."""
        if self.encoder is None:
            raise ValueError("this Ranker has no encoder for interest texts: load it with Ranker.load")
        out = torch.zeros(len(texts), self.table.vectors.shape[1])
        given = [i for i, t in enumerate(texts) if t.strip()]
        if given:
            as_read = [self.spec.news_text.as_read(texts[i]) for i in given]  # in the news' Chinese script
            out[given] = torch.from_numpy(encode_texts(self.encoder, as_read))
        return out

    @torch.no_grad()
    def score(
        self,
        impressions: Sequence[Impression],
        interest_texts: dict[str, str] | None = None,
        text_weight: float = TEXT_WEIGHT,
        batch_size: int = 128,
        popularity: Callable[[Impression], np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """One score array per impression, in candidate order; higher = more relevant.

        `interest_texts` maps user ids to texts describing them (profile, own description);
        `popularity` gives an impression's candidate features (default: `popularity_at`).
        """
        features = popularity or self.popularity_at
        counts = (
            impressions.candidate_counts()
            if isinstance(impressions, Behaviors)
            else [len(i.candidates) for i in impressions]
        )
        at = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=at[1:])
        # one buffer for every score: many small arrays kept while big temporaries come and go
        # fragment the heap (glibc), 4 KB and more of memory per impression scored
        flat = np.empty(at[-1], np.float32)
        for start in range(0, len(impressions), batch_size):
            chunk = list(impressions[start : start + batch_size])
            rows = [Row(i.history, i.candidates, features(i)) for i in chunk]
            batch = make_batch(rows, self.table, self.spec.max_history)
            cand, hist = (v.to(self.device) for v in batch.vectors(self.table))
            text = self.encode_texts([interest_texts.get(i.user_id, "") for i in chunk]) if interest_texts else None
            on = batch.to(self.device)
            scores = self.model(
                cand, hist, on.history_mask, on.popularity, None if text is None else text.to(self.device), text_weight
            )
            scores = scores.masked_fill(~on.candidate_mask, MISSING_SCORE).float().cpu().numpy()
            for i, imp in enumerate(chunk):
                flat[at[start + i] : at[start + i + 1]] = scores[i, : len(imp.candidates)]
        return [flat[at[i] : at[i + 1]] for i in range(len(counts))]

    @torch.no_grad()
    def reason(self, history: list[str], news_id: str, topics: Sequence[str] = ()) -> Reason:
        """Which history items and interest topics drove `news_id`'s score, and how much popularity added."""
        batch = make_batch(
            [Row(history, [news_id], self.popularity.features([news_id]))], self.table, self.spec.max_history
        )
        cand, hist = (v.to(self.device) for v in batch.vectors(self.table))
        hist_ids = [self.table.ids[r - 1] for r in batch.history[0][batch.history_mask[0]].tolist()]
        directions = self.model.apply_w(hist[0, : len(hist_ids)]).cpu().numpy()
        popularity = float(self.model.popularity_score(batch.popularity.to(self.device))[0, 0])
        topic_vectors = self.encode_texts(topics).numpy() if topics and self.encoder is not None else None
        return reason_from_matches(cand[0, 0].cpu().numpy(), hist_ids, directions, popularity, topics, topic_vectors)

    def recommend(
        self, history: list[str], k: int = 5, interest_text: str = "", topics: Sequence[str] = ()
    ) -> list[tuple[str, float, Reason]]:
        """Top-k unread news of the whole table for a user with this history (and description)."""
        read = set(history)
        pool = [i for i in self.table.ids if i not in read]
        texts = {"user": interest_text} if interest_text else None
        scores = self.score([Impression("", "user", "", history, pool)], texts)[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(pool[i], float(scores[i]), self.reason(history, pool[i], topics)) for i in top]

    def zero_shot_table(self, news: dict[str, News], cache: EmbeddingCache | None = None) -> NewsTable:
        """The pretrained encoder's vectors: this model's own table unless its top layers were tuned."""
        if not self.spec.finetune_layers:
            return self.table
        untuned = self.spec.model_copy(update={"finetune_layers": 0})
        used = {i: news[i] for i in self.table.ids if i in news}
        return NewsTable.encode(untuned.prepare_news(used), untuned.build_encoder(), untuned.news_text, cache)


def _bounded(config: RecommenderConfig, model_dir: Path) -> RecommenderConfig:
    """`config` if the recommender it builds has a real model's sizes (models/spec.py's limits):
    checked before it is built, so a model.pt declaring 10^9 dimensions allocates nothing."""
    where, widths = model_dir / MODEL_FILE, config.member_dims or [config.dim]
    if len(widths) > MAX_TOWERS or not all(0 < width <= MAX_DIM for width in [config.dim, *widths]):
        raise ValueError(
            f"{where} declares news vectors of {config.dim} dimensions in {len(widths)} towers: "
            f"a model has 1 to {MAX_DIM} dimensions in at most {MAX_TOWERS} towers"
        )
    if config.user_encoder == "nrms" and (config.heads > MAX_HEADS or any(width % config.heads for width in widths)):
        raise ValueError(
            f"{where} declares {config.heads} attention heads: a model has at most {MAX_HEADS}, "
            f"and they divide each tower's dimensions ({widths})"
        )
    return config


def _load_weights(module: torch.nn.Module, weights: dict, model_dir: Path, strict: bool = True) -> None:
    """`weights` into `module`. Weights of other names or shapes than the model its settings describe
    (a changed file, another model's, an older newsrec's) are a ValueError naming the first difference."""
    try:
        module.load_state_dict(weights, strict=strict)
    except (RuntimeError, TypeError) as e:  # torch lists every difference, one a line after a heading
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e)).rstrip(".")
        raise ValueError(
            f"{model_dir / MODEL_FILE} does not fit the model its settings describe ({first[:300]}): train it again"
        ) from None
