"""The training recipe, top to bottom: data, encoder, model, epochs, validation, checkpoints.

Loss: softmax cross-entropy over each click and K sampled non-clicks of its impression.
With a frozen PLM (the default) news vectors are computed once and cached on disk, and an
epoch over the MIND sample takes seconds. With `finetune_layers > 0` the batch's news go
through the PLM's top layers with gradients.

The run writes into `out_dir`: config.json, model.pt (best epoch), popularity.json,
metrics.jsonl (one line per epoch), training_curve.png, and checkpoint.pt (the last epoch,
for resuming after a kill: run the same command again).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from newsrec.config import TrainConfig
from newsrec.data.mind import Impression, News, drop_missing_news, news_used_by
from newsrec.data.popularity import PopularityStats
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.news_table import PAD, NewsTable
from newsrec.encoders.plm import PLM
from newsrec.encoders.text import news_text
from newsrec.evaluation.evaluate import evaluate_scores
from newsrec.models.batch import Batch, make_batch
from newsrec.models.ranker import Ranker, build_plm, prepare_news, save_model
from newsrec.models.recommender import NewsRecommender, RecommenderConfig
from newsrec.training.plot import plot_curve
from newsrec.training.samples import sample_rows

__all__ = ["train", "TrainResult", "seed_everything"]

logger = logging.getLogger(__name__)
CHECKPOINT_FILE, METRICS_FILE, CURVE_FILE = "checkpoint.pt", "metrics.jsonl", "training_curve.png"


@dataclass
class TrainResult:
    out_dir: Path
    best_epoch: int
    best_valid: dict[str, float] | None
    history: list[dict]
    seconds: float


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(
    config: TrainConfig,
    news: dict[str, News],
    train_impressions: list[Impression],
    out_dir: str | Path,
    valid_impressions: list[Impression] | None = None,
    cache: EmbeddingCache | None = None,
    restart: bool = False,
) -> TrainResult:
    """Train a recommender and save it to `out_dir`; resumes from its checkpoint if present."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)

    # --- data: drop ids without text (reported), count popularity from the training logs only
    news = prepare_news(news, config)
    train_imps, _ = drop_missing_news(train_impressions, news, require_click=True)
    valid_imps = drop_missing_news(valid_impressions, news, require_click=True)[0] if valid_impressions else None
    if not train_imps:
        raise ValueError("no training impression has a click on a news item found in news.tsv")
    stats = PopularityStats.from_impressions(train_imps)
    used_news = news_used_by(train_imps + (valid_imps or []), news)

    # --- model and optimiser (with the PLM's top layers when fine-tuning)
    plm = build_plm(config)
    finetune = config.finetune_layers > 0
    model = NewsRecommender(RecommenderConfig(dim=plm.dim, user_encoder=config.user_encoder, scorer=config.scorer,
                                              heads=config.heads, use_popularity=config.use_popularity))
    # as in nanoGPT: decay matrices only; biases, the scale and the empty-user prior keep their size
    groups = [
        {"params": [p for p in model.parameters() if p.dim() >= 2], "lr": config.lr},
        {"params": [p for p in model.parameters() if p.dim() < 2], "lr": config.lr, "weight_decay": 0.0},
    ]
    if finetune:
        groups.append({"params": [p for p in plm.parameters() if p.requires_grad], "lr": config.plm_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)

    # --- resume from the last finished epoch if this run was stopped
    state = _load_checkpoint(out_dir, config, model, plm, optimizer) if not restart else None
    history: list[dict] = state["history"] if state else []
    best_metric = state["best_metric"] if state else -float("inf")
    bad_epochs = state["bad_epochs"] if state else 0
    start_epoch = len(history) + 1
    if state:
        logger.info("resuming %s after epoch %d", out_dir, len(history))
    if restart:
        (out_dir / METRICS_FILE).unlink(missing_ok=True)

    # --- news vectors of every needed news item, through the on-disk cache
    table = NewsTable.encode(used_news, plm, config.news_fields, cache, config.encode_batch_size)
    tokens = plm.tokenizer([news_text(used_news[i], config.news_fields) for i in table.ids],
                           truncation=True, max_length=config.max_length)["input_ids"] if finetune else None
    paraphrased = _paraphrase_vectors(config, used_news, table, plm, cache) if config.paraphrase_prob else None

    for epoch in range(start_epoch, config.epochs + 1):
        if bad_epochs >= config.patience:
            break
        # --- one epoch over freshly sampled non-clicks
        model.train()
        plm.train(finetune)
        rows = sample_rows(train_imps, config.negatives, random.Random(config.seed + epoch))
        losses = []
        steps = range(0, len(rows), config.batch_size)
        for start in tqdm(steps, desc=f"epoch {epoch}", unit="batch", leave=False, disable=None):
            batch = make_batch(rows[start : start + config.batch_size], table, stats, config.max_history)
            candidates, hist = _batch_vectors(batch, table, plm, tokens)
            if paraphrased is not None:  # augmentation: some news appear under their paraphrased title
                candidates = _swap_in(candidates, batch.candidates, paraphrased, config.paraphrase_prob)
                hist = _swap_in(hist, batch.history, paraphrased, config.paraphrase_prob)
            scores = model(candidates, hist, batch.history_mask, batch.popularity)  # (B, 1 + K)
            loss = nn.functional.cross_entropy(scores, torch.zeros(len(scores), dtype=torch.long))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if finetune:  # the PLM changed: re-encode news for validation (not cached: weights move)
            table = NewsTable.encode(used_news, plm, config.news_fields, None, config.encode_batch_size)
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "seconds": round(time.perf_counter() - started, 1)}

        # --- validation, best checkpoint, early stopping
        if valid_imps:
            valid = evaluate_scores(valid_imps, Ranker(model, table, stats, config).score(valid_imps), news, stats)
            record.update({f"valid_{k}": v for k, v in valid.items() if k != "impressions"})
        metric = record.get("valid_auc", -record["train_loss"])
        if metric > best_metric:
            best_metric, bad_epochs = metric, 0
            save_model(out_dir, model, plm, config, stats)
            record["best"] = True
        else:
            bad_epochs += 1
        history.append(record)
        logger.info("epoch %d: %s", epoch, {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()})
        with (out_dir / METRICS_FILE).open("a") as f:
            f.write(json.dumps(record) + "\n")
        _save_checkpoint(out_dir, config, model, plm, optimizer, history, best_metric, bad_epochs)

    plot_curve(history, out_dir / CURVE_FILE)
    best = max(history, key=lambda h: h.get("valid_auc", -h["train_loss"]))
    best_valid = {k[6:]: v for k, v in best.items() if k.startswith("valid_")} or None
    return TrainResult(out_dir, best["epoch"], best_valid, history, time.perf_counter() - started)


def _batch_vectors(
    batch: Batch, table: NewsTable, plm: PLM, tokens: list[list[int]] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate (B, N, D) and history (B, H, D) vectors: from the table, or through the PLM."""
    if tokens is None:
        return batch.vectors(table)
    rows = torch.cat([batch.candidates.flatten(), batch.history.flatten()]).unique()
    rows = rows[rows != PAD]
    padded = plm.tokenizer.pad({"input_ids": [tokens[r - 1] for r in rows.tolist()]}, return_tensors="pt")
    vectors = torch.cat([torch.zeros(1, plm.dim), plm(padded["input_ids"], padded["attention_mask"])])
    position = torch.zeros(len(table) + 1, dtype=torch.long)
    position[rows] = torch.arange(1, len(rows) + 1)
    return vectors[position[batch.candidates]], vectors[position[batch.history]]


def _paraphrase_vectors(config: TrainConfig, news: dict[str, News], table: NewsTable, plm: PLM,
                        cache: EmbeddingCache | None) -> torch.Tensor:
    """(N + 1, D) vectors of each news item with its title paraphrased (the original where none)."""
    from newsrec.llm.paraphrase import read_paraphrases

    titles = read_paraphrases(config.paraphrases)
    changed = {i: dataclasses.replace(n, title=titles[i]) for i, n in news.items() if i in titles}
    vectors = table.vectors.clone()
    if changed:
        alt = NewsTable.encode(changed, plm, config.news_fields, cache, config.encode_batch_size)
        vectors[table.rows(alt.ids)] = alt.vectors[1:]
    logger.info("paraphrase augmentation: %d of %d news have a paraphrased title", len(changed), len(news))
    return vectors


def _swap_in(vectors: torch.Tensor, rows: torch.Tensor, alternative: torch.Tensor, prob: float) -> torch.Tensor:
    """Replace each (B, N, D) vector by its alternative with probability `prob`."""
    swap = (torch.rand(rows.shape) < prob).unsqueeze(-1)
    return torch.where(swap, alternative[rows], vectors)


def _save_checkpoint(out_dir, config, model, plm, optimizer, history, best_metric, bad_epochs) -> None:
    tmp = out_dir / (CHECKPOINT_FILE + ".tmp")
    torch.save({
        "config": config.model_dump(), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "plm_trained": {k: v for k, v in plm.named_parameters() if v.requires_grad},
        "history": history, "best_metric": best_metric, "bad_epochs": bad_epochs,
        "torch_rng": torch.get_rng_state(),
    }, tmp)
    tmp.replace(out_dir / CHECKPOINT_FILE)  # atomic: a kill mid-write leaves the old checkpoint


def _load_checkpoint(out_dir, config, model, plm, optimizer) -> dict | None:
    path = out_dir / CHECKPOINT_FILE
    if not path.is_file():
        return None
    state = torch.load(path, weights_only=False)
    if {**state["config"], "epochs": config.epochs} != {**config.model_dump(), "epochs": config.epochs}:
        raise ValueError(f"{out_dir} holds a run with other settings: use a new --out, or --restart to overwrite it")
    model.load_state_dict(state["model"])
    plm.load_state_dict(state["plm_trained"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return state
