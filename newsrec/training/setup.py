"""What a training run sets up once: its data (this process's part under torchrun, the
missing-news rule applied, the popularity replay), the encoder and news vectors, the
recommender, loss and optimiser (`set_up`), and optionally the weights of a trained model to go
on from (`start_from`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from newsrec.data.behaviors import Behaviors
from newsrec.data.mind import News
from newsrec.data.missing_news import drop_missing_news, news_used_by
from newsrec.data.popularity import CountsBefore, Popularity, publication_times
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.concat import member_dims
from newsrec.models.ranker import MODEL_FILE
from newsrec.models.recommender import NewsRecommender
from newsrec.precision import needs_scaler, products_dtype
from newsrec.training.config import TrainConfig
from newsrec.training.distributed import World
from newsrec.training.loss import ClickLoss
from newsrec.training.news_encoding import NewsEncoding, encode_news
from newsrec.training.parts import Log, read_part, shared_replay

__all__ = ["TrainingData", "TrainingRun", "load_data", "set_up", "start_from"]

logger = logging.getLogger(__name__)


@dataclass
class TrainingData:
    news: dict[str, News]  # as the model reads them (enrichment attached)
    train: Behaviors  # this process's part (all of them in a world of one)
    valid: Behaviors | None
    train_impressions: int  # in every process's part together
    popularity: Popularity  # the training logs' counts at their end (what the saved model starts from)
    train_popularity: CountsBefore  # per training candidate: its item's counts just before the impression
    steps_per_epoch: int


@dataclass
class TrainingRun:
    """Everything set up once: where to write, who this process is, and what trains."""

    config: TrainConfig
    out_dir: Path
    world: World
    started: float  # perf_counter at the start of `train`
    data: TrainingData
    encoding: NewsEncoding  # frozen or tuned: the news table and the encoder side of a step
    table_row: np.ndarray  # news code of the training data -> row of the news table
    model: NewsRecommender
    loss: nn.Module  # ClickLoss, wrapped for data parallelism under torchrun
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None  # float16 products on CUDA: the loss is scaled
    trainable: int  # parameters that learn, encoder included


def load_data(
    config: TrainConfig, news: dict[str, News], train: Log, valid: Log | None, world: World, out_dir: Path
) -> TrainingData:
    """This process's part of the logs (all of them in a world of one; parts.py), ids without
    text dropped (reported), and the training log's popularity replay (its counts only)."""
    news = config.prepare_news(news)
    train_imps, _ = drop_missing_news(read_part(train, world), news, require_click=True)
    valid_imps = drop_missing_news(read_part(valid, world), news, require_click=True)[0] if valid else None
    train_impressions = world.total(len(train_imps))
    if not train_impressions:
        raise ValueError("no training impression has a click on a news item found in news.tsv")
    if not world.least(len(train_imps)):
        raise ValueError(f"some of the {world.size} processes have no training impression: use fewer processes")
    if world.size > 1:
        logger.info("process %d of %d: %d training impressions (its part)", world.rank, world.size, len(train_imps))
    steps_per_epoch = -(-world.total(train_imps.clicks()) // config.batch_size)
    if world.size == 1:
        popularity, before = Popularity.replay(train_imps, config.popularity_half_life_hours, publication_times(news))
    else:
        popularity, before = shared_replay(train, train_imps, news, config.popularity_half_life_hours, world, out_dir)
    return TrainingData(news, train_imps, valid_imps, train_impressions, popularity, before, steps_per_epoch)


def set_up(
    config: TrainConfig, data: TrainingData, cache: EmbeddingCache | None, out_dir: Path, world: World, started: float
) -> TrainingRun:
    """Encoder and news vectors (frozen or tuned), recommender, loss and optimiser."""
    encoder = config.build_encoder(total_steps=data.steps_per_epoch * config.epochs, device=str(world.device))
    used = {**news_used_by(data.train, data.news), **(news_used_by(data.valid, data.news) if data.valid else {})}
    encoding = encode_news(encoder, _with_every_part(used, data.news, world), config, cache, world)
    table_row = np.array(encoding.table.rows(data.train.news.ids), np.int64)
    model = NewsRecommender(config.recommender_config(encoder.dim, member_dims(encoder))).to(world.device)
    dtype = products_dtype(config.train_precision, world.device)
    loss = world.wrap(
        ClickLoss(
            model,
            encoding.plm,
            config.adversarial,
            config.adv_epsilon,
            config.adv_steps,
            dtype=dtype,
        )
    )
    optimizer = _optimizer(config, model, encoding.trainable())
    trainable = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
    logger.info("trainable parameters: %d (encoder: %s)", trainable, _describe_tuning(config))
    scaler = torch.amp.GradScaler(world.device.type) if needs_scaler(dtype) else None
    return TrainingRun(
        config, out_dir, world, started, data, encoding, table_row, model, loss, optimizer, scaler, trainable
    )


def _with_every_part(used: dict[str, News], news: dict[str, News], world: World) -> dict[str, News]:
    """The news this process needs; for the main process, which fills the embedding cache before
    the others read it, those of every process's part."""
    every_part = world.gather(list(used))
    if not world.is_main or world.size == 1:
        return used
    return {news_id: news[news_id] for ids in every_part for news_id in ids}


def start_from(model_dir: Path, run: TrainingRun) -> None:
    """The recommender's (and tuned encoder layers') weights of a trained model, to go on from."""
    saved = torch.load(model_dir / MODEL_FILE, weights_only=True, map_location="cpu")
    try:
        run.model.load_state_dict(saved["recommender"])
        if saved["plm_trained"]:
            run.encoding.load_state_dict(saved["plm_trained"])
    except (RuntimeError, KeyError) as e:
        raise ValueError(f"--init {model_dir} was trained with other encoder or recommender settings: {e}") from None
    logger.info("starting from the weights of %s", model_dir)


def _optimizer(config: TrainConfig, model: NewsRecommender, encoder_params: list[nn.Parameter]) -> torch.optim.AdamW:
    # as in nanoGPT: decay matrices only; biases, the scale and the empty-user prior keep their size
    groups: list[dict[str, Any]] = [
        {"params": [p for p in model.parameters() if p.dim() >= 2], "lr": config.lr},
        {"params": [p for p in model.parameters() if p.dim() < 2], "lr": config.lr, "weight_decay": 0.0},
    ]
    if encoder_params:  # a frozen encoder adds no group, so its optimiser state matches older checkpoints
        groups.append({"params": encoder_params, "lr": config.plm_lr})
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)


def _describe_tuning(config: TrainConfig) -> str:
    if not config.finetune_layers:
        return f"{config.encoder} frozen"
    return f"{config.encoder}, top {config.finetune_layers} layers by {config.tuning}"
