"""The training recipe, top to bottom: data, encoder, model, epochs, validation, checkpoints.

Loss: softmax cross-entropy over each click and K sampled non-clicks of its impression
(training/loss.py), optionally plus an adversarial term (adversarial.py). With a frozen PLM
(the default) news vectors are computed once and cached on disk, and an epoch over the MIND
sample takes seconds. With `finetune_layers > 0` the top layers learn (fully, LoRA, AdaLoRA
or adapters): the frozen layers below run once per news item (encoders/layer_cache.py) and
each step runs the batch's candidates through the tuned layers with gradients.
Augmentation swaps in precomputed vectors of paraphrased or noisy copies of news items.
Under torchrun, training is data-parallel (distributed.py).

The run writes into `out_dir`: config.json, model.pt (best epoch), popularity.json,
metrics.jsonl (one line per epoch), training_curve.png, train_summary.json, and
checkpoint.pt (the last epoch, for resuming after a kill: run the same command again).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from newsrec.config import TrainConfig
from newsrec.data.mind import Impression, News, drop_missing_news, news_used_by
from newsrec.data.augment import augment
from newsrec.data.popularity import PopularityStats
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.layer_cache import LayerCache
from newsrec.encoders.news_table import PAD, NewsTable
from newsrec.encoders.plm import PLM
from newsrec.evaluation.evaluate import evaluate_scores
from newsrec.models.batch import Batch, make_batch
from newsrec.models.ranker import Ranker, save_model
from newsrec.models.recommender import NewsRecommender, RecommenderConfig
from newsrec.precision import use_bf16
from newsrec.training.distributed import join_world
from newsrec.training.loss import ClickLoss
from newsrec.training.plot import plot_curve
from newsrec.training.samples import sample_rows

__all__ = ["train", "TrainResult", "seed_everything"]

logger = logging.getLogger(__name__)
CHECKPOINT_FILE, METRICS_FILE, CURVE_FILE = "checkpoint.pt", "metrics.jsonl", "training_curve.png"
CONFIG_FILE = "config.json"  # every training setting, for the record and for resuming
SUMMARY_FILE = "train_summary.json"  # trainable parameters, seconds, processes


@dataclass
class TrainResult:
    out_dir: Path
    best_epoch: int
    best_valid: dict[str, float] | None
    history: list[dict]
    seconds: float
    trainable_parameters: int = 0


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
    """Train a recommender and save it to `out_dir`; resumes from its checkpoint if present.

    Under `torchrun --nproc_per_node=N` each process trains on its share of every batch.
    """
    started = time.perf_counter()
    world = join_world()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)

    # --- data: drop ids without text (reported), count popularity from the training logs only
    news = config.prepare_news(news)
    train_imps, _ = drop_missing_news(train_impressions, news, require_click=True)
    valid_imps = drop_missing_news(valid_impressions, news, require_click=True)[0] if valid_impressions else None
    if not train_imps:
        raise ValueError("no training impression has a click on a news item found in news.tsv")
    stats = PopularityStats.from_impressions(train_imps)
    used_news = news_used_by(train_imps + (valid_imps or []), news)
    steps_per_epoch = -(-sum(len(i.clicked) for i in train_imps) // config.batch_size)

    # --- model, encoder (its top layers learn when finetune_layers > 0) and optimiser
    plm = config.build_encoder(total_steps=steps_per_epoch * config.epochs)
    tuned = config.finetune_layers > 0
    model = NewsRecommender(RecommenderConfig(dim=plm.dim, user_encoder=config.user_encoder, scorer=config.scorer,
                                              heads=config.heads, use_popularity=config.use_popularity))
    loss_module = world.wrap(ClickLoss(model, plm if tuned else None, config.adversarial, config.adv_epsilon,
                                       config.adv_steps, bf16=use_bf16(config.train_precision)))
    # as in nanoGPT: decay matrices only; biases, the scale and the empty-user prior keep their size
    groups = [
        {"params": [p for p in model.parameters() if p.dim() >= 2], "lr": config.lr},
        {"params": [p for p in model.parameters() if p.dim() < 2], "lr": config.lr, "weight_decay": 0.0},
    ]
    if tuned:
        groups.append({"params": [p for p in plm.parameters() if p.requires_grad], "lr": config.plm_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    trainable = sum(p.numel() for g in groups for p in g["params"])
    logger.info("trainable parameters: %d (encoder: %s)", trainable, _describe_tuning(config))

    # --- resume from the last finished epoch if this run was stopped
    state = _load_checkpoint(out_dir, config, model, plm, optimizer) if not restart else None
    history: list[dict] = state["history"] if state else []
    best_metric = state["best_metric"] if state else -float("inf")
    bad_epochs = state["bad_epochs"] if state else 0
    start_epoch = len(history) + 1
    if state:
        logger.info("resuming %s after epoch %d", out_dir, len(history))
    if restart and world.is_main:
        (out_dir / METRICS_FILE).unlink(missing_ok=True)

    # --- news vectors of every needed news item, through the on-disk cache (the main process
    # fills it first, so the others only read); with tuned layers, the frozen layers' states
    with world.main_first():
        table = NewsTable.encode(used_news, plm, config.news_text, cache, config.encode_batch_size)
    layers = LayerCache(plm, [config.news_text(used_news[i]) for i in table.ids], config.encode_batch_size) if tuned else None
    if layers is not None and state:  # resumed with trained layers: the checkpoint's vectors, not the cache's
        table = NewsTable(table.ids, layers.encode_all(plm))
    alternatives = _alternative_vectors(config, used_news, table, plm, cache)

    step = (start_epoch - 1) * steps_per_epoch
    for epoch in range(start_epoch, config.epochs + 1):
        if bad_epochs >= config.patience:
            break
        # --- one epoch over freshly sampled non-clicks
        model.train()
        plm.train(tuned)
        rows = sample_rows(train_imps, config.negatives, random.Random(config.seed + epoch))
        losses, seen, epoch_started = [], 0, time.perf_counter()
        steps = range(0, len(rows), config.batch_size)
        for start in tqdm(steps, desc=f"epoch {epoch}", unit="batch", leave=False, disable=None if world.is_main else True):
            share = world.shard(rows[start : start + config.batch_size])
            seen += len(share)
            batch = make_batch(share, table, stats, config.max_history)
            candidates, hist = batch.vectors(table)
            for vectors, prob in alternatives:  # augmentation: some news appear as their paraphrase / noisy copy
                candidates = _swap_in(candidates, batch.candidates, vectors, prob)
                hist = _swap_in(hist, batch.history, vectors, prob)
            inputs, scores = _step_inputs(model, plm, layers, batch, candidates, hist)
            loss = loss_module(inputs, scores)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if tuned:
                plm.after_step(step)
            losses.append(loss.item())
        if layers is not None:  # the tuned layers changed: re-encode every news item for history and validation
            table = NewsTable(table.ids, layers.encode_all(plm))
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "train_rows": seen,  # this process's share
                  "step_seconds": round(time.perf_counter() - epoch_started, 2),  # this epoch's training steps
                  "seconds": round(time.perf_counter() - started, 1)}  # since the run started

        # --- validation, best checkpoint, early stopping (every process decides alike)
        if valid_imps:
            valid = evaluate_scores(valid_imps, Ranker(model, table, stats, config).score(valid_imps), news, stats)
            record.update({f"valid_{k}": v for k, v in valid.items() if k != "impressions"})
        metric = record.get("valid_auc", -record["train_loss"])
        if metric > best_metric:
            best_metric, bad_epochs = metric, 0
            if world.is_main:
                save_model(out_dir, model, plm, config, stats)
                (out_dir / CONFIG_FILE).write_text(config.model_dump_json(indent=2))
            record["best"] = True
        else:
            bad_epochs += 1
        history.append(record)
        if world.is_main:
            logger.info("epoch %d: %s", epoch, {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()})
            with (out_dir / METRICS_FILE).open("a") as f:
                f.write(json.dumps(record) + "\n")
            _save_checkpoint(out_dir, config, model, plm, optimizer, history, best_metric, bad_epochs)

    if world.is_main:
        plot_curve(history, out_dir / CURVE_FILE)
        (out_dir / SUMMARY_FILE).write_text(json.dumps({
            "trainable_parameters": trainable, "seconds": round(time.perf_counter() - started, 1),
            "processes": world.size}, indent=2))
    world.barrier()
    best = max(history, key=lambda h: h.get("valid_auc", -h["train_loss"]))
    best_valid = {k[6:]: v for k, v in best.items() if k.startswith("valid_")} or None
    return TrainResult(out_dir, best["epoch"], best_valid, history, time.perf_counter() - started, trainable)


def _describe_tuning(config: TrainConfig) -> str:
    if not config.finetune_layers:
        return f"{config.encoder} frozen"
    return f"{config.encoder}, top {config.finetune_layers} layers by {config.tuning}"


def _step_inputs(model: NewsRecommender, plm: PLM, layers: LayerCache | None, batch: Batch,
                 candidates: torch.Tensor, hist: torch.Tensor) -> tuple[list[torch.Tensor], Callable]:
    """The batch's input embeddings and the function from them to scores (B, 1 + K).

    Frozen PLM: the inputs are the candidate and history vectors. Tuned layers: the inputs are
    the cached hidden states of the batch's candidates, which run through the tuned layers
    with gradients; history vectors come from the table (re-encoded after every epoch).
    """
    if layers is None:
        return [candidates, hist], lambda x: model(x[0], x[1], batch.history_mask, batch.popularity)
    rows = batch.candidates.flatten().unique()
    rows = rows[rows != PAD]
    hidden, attention = layers.batch((rows - 1).tolist())
    position = torch.zeros(len(layers) + 1, dtype=torch.long)
    position[rows] = torch.arange(1, len(rows) + 1)

    def scores(x: list[torch.Tensor]) -> torch.Tensor:
        vectors = torch.cat([torch.zeros(1, plm.dim), plm.upper(x[0], attention)])
        return model(vectors[position[batch.candidates]], hist, batch.history_mask, batch.popularity)

    return [hidden], scores


def _alternative_vectors(config: TrainConfig, news: dict[str, News], table: NewsTable, plm: PLM,
                         cache: EmbeddingCache | None) -> list[tuple[torch.Tensor, float]]:
    """(N + 1, D) vectors of each news item as an LLM paraphrase / a noisy copy, with the chance
    a training news is shown that way (the original where an item has no such version)."""
    out = []
    if config.paraphrase_prob:
        from newsrec.llm.paraphrase import read_paraphrases

        titles = read_paraphrases(config.paraphrases)
        changed = {i: dataclasses.replace(n, title=titles[i]) for i, n in news.items() if i in titles}
        logger.info("paraphrase augmentation: %d of %d news have a paraphrased title", len(changed), len(news))
        out.append((_vectors_of(changed, table, plm, config, cache), config.paraphrase_prob))
    if config.augment_prob:
        rng = random.Random(config.seed)
        noisy = {i: dataclasses.replace(n, title=augment(n.title, rng, config.token_dropout, config.token_swap),
                                        abstract=augment(n.abstract, rng, config.token_dropout, config.token_swap))
                 for i, n in news.items()}
        out.append((_vectors_of(noisy, table, plm, config, cache), config.augment_prob))
    return out


def _vectors_of(changed: dict[str, News], table: NewsTable, plm: PLM, config: TrainConfig,
                cache: EmbeddingCache | None) -> torch.Tensor:
    vectors = table.vectors.clone()
    if changed:
        alt = NewsTable.encode(changed, plm, config.news_text, cache, config.encode_batch_size)
        vectors[table.rows(alt.ids)] = alt.vectors[1:]
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
