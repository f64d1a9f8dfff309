"""The training recipe, top to bottom: data, news encoding, model, epochs, validation, checkpoints.

Loss: softmax cross-entropy over each click and K sampled non-clicks of its impression
(training/loss.py), optionally plus an adversarial term (adversarial.py). With a frozen PLM
(the default) news vectors are computed once and cached on disk, and an epoch over the MIND
sample takes seconds. With `finetune_layers > 0` the top layers learn (fully, LoRA, AdaLoRA
or adapters). Everything that differs between the two, augmentation included, lives in
news_encoding.py.
Under torchrun, training is data-parallel (distributed.py).

`train` reads in parts: `_load_data`, `_set_up` (encoder, model, optimiser), `_resume`, then per
epoch `_train_epoch`, `_validate` and `_end_epoch` (best model, metrics line, checkpoint). The
best epoch is the one with the highest `_metric`, for early stopping and the result alike.

The run writes into `out_dir`: config.json, model.json and model.pt (best epoch), popularity.json,
metrics.jsonl (one line per epoch), training_curve.png, train_summary.json (with each stage's
seconds and peak memory), and checkpoint.pt (the last epoch, for resuming after a kill: run
the same command again).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from newsrec.data.behaviors import Behaviors, drop_missing_news, news_used_by
from newsrec.data.mind import Impression, News
from newsrec.data.popularity import CountsBefore, Popularity
from newsrec.device import resolve_device
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.concat import member_dims
from newsrec.evaluation.evaluate import MetricTally
from newsrec.evaluation.report import CHUNK
from newsrec.models.batch import Batch, table_rows_batch
from newsrec.models.ranker import MODEL_FILE, Ranker, save_model
from newsrec.models.recommender import NewsRecommender, RecommenderConfig
from newsrec.precision import needs_scaler, products_dtype
from newsrec.progress import Progress
from newsrec.stages import Stages
from newsrec.training.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from newsrec.training.config import TrainConfig
from newsrec.training.distributed import World, join_world
from newsrec.training.logbook import METRICS_FILE, log_epoch, write_summary
from newsrec.training.loss import ClickLoss
from newsrec.training.news_encoding import NewsEncoding, encode_news
from newsrec.training.samples import impressions_of, sample_rows

__all__ = ["TrainResult", "seed_everything", "train"]

logger = logging.getLogger(__name__)
CONFIG_FILE = "config.json"  # every training setting, for the record and for resuming


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


@dataclass
class _Data:
    news: dict[str, News]  # as the model reads them (enrichment attached)
    train: Behaviors
    valid: Behaviors | None
    popularity: Popularity  # the training logs' counts at their end (what the saved model starts from)
    train_popularity: CountsBefore  # per training candidate: its item's counts just before the impression
    steps_per_epoch: int


@dataclass
class _Run:
    """Everything set up once: where to write, who this process is, and what trains."""

    config: TrainConfig
    out_dir: Path
    world: World
    started: float  # perf_counter at the start of `train`
    data: _Data
    encoding: NewsEncoding  # frozen or tuned: the news table and the encoder side of a step
    table_row: np.ndarray  # news code of the training data -> row of the news table
    model: NewsRecommender
    loss: nn.Module  # ClickLoss, wrapped for data parallelism under torchrun
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None  # float16 products on CUDA: the loss is scaled
    trainable: int  # parameters that learn, encoder included


def train(
    config: TrainConfig,
    news: dict[str, News],
    train_impressions: Sequence[Impression],
    out_dir: str | Path,
    valid_impressions: Sequence[Impression] | None = None,
    cache: EmbeddingCache | None = None,
    restart: bool = False,
    init: str | Path | None = None,
    device: str = "auto",
) -> TrainResult:
    """Train a recommender and save it to `out_dir`; resumes from its checkpoint if present.

    `init` starts from the weights of a trained (e.g. served) model folder with the same
    settings of encoder and recommender. Under `torchrun --nproc_per_node=N` each process
    trains on its share of every batch. `device`: see `newsrec/device.py`.
    """
    started = time.perf_counter()
    world = join_world(resolve_device(device))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)

    stages = Stages()
    with stages("missing news and popularity replay"):
        data = _load_data(config, news, train_impressions, valid_impressions)
    with stages("news encoding and model"):
        run = _set_up(config, data, cache, out_dir, world, started)
    if init is not None:
        _start_from(Path(init), run)
    progress = _resume(run, restart)
    for epoch in range(len(progress.history) + 1, config.epochs + 1):
        if progress.bad_epochs >= config.patience:
            break
        with stages(f"epoch {epoch}"):
            record = _train_epoch(run, progress, epoch)
        with stages(f"validation {epoch}"):
            record.update(_validate(run))
        _end_epoch(run, progress, record)

    if world.is_main:
        write_summary(
            out_dir,
            progress.history,
            stages,
            trainable_parameters=run.trainable,
            seconds=round(time.perf_counter() - started, 1),
            processes=world.size,
            training_impressions=len(data.train),
        )
    world.barrier()
    return _result(run, progress.history)


def _metric(record: dict) -> float:
    """Higher is better: validation AUC, or minus the training loss when there is no validation set."""
    return record.get("valid_auc", -record["train_loss"])


# --- setup ---------------------------------------------------------------------------------------


def _load_data(
    config: TrainConfig,
    news: dict[str, News],
    train_impressions: Sequence[Impression],
    valid_impressions: Sequence[Impression] | None,
) -> _Data:
    """Drop ids without text (reported) and replay the training logs for popularity (theirs only)."""
    news = config.prepare_news(news)
    train_imps, _ = drop_missing_news(train_impressions, news, require_click=True)
    valid_imps = drop_missing_news(valid_impressions, news, require_click=True)[0] if valid_impressions else None
    if not len(train_imps):
        raise ValueError("no training impression has a click on a news item found in news.tsv")
    steps_per_epoch = -(-train_imps.clicks() // config.batch_size)
    popularity, before = Popularity.replay(train_imps, config.popularity_half_life_hours)
    return _Data(news, train_imps, valid_imps, popularity, before, steps_per_epoch)


def _set_up(
    config: TrainConfig, data: _Data, cache: EmbeddingCache | None, out_dir: Path, world: World, started: float
) -> _Run:
    """Encoder and news vectors (frozen or tuned), recommender, loss and optimiser."""
    encoder = config.build_encoder(total_steps=data.steps_per_epoch * config.epochs, device=str(world.device))
    used = {**news_used_by(data.train, data.news), **(news_used_by(data.valid, data.news) if data.valid else {})}
    encoding = encode_news(encoder, used, config, cache, world)
    table_row = np.array(encoding.table.rows(data.train.news.ids), np.int64)
    model = NewsRecommender(
        RecommenderConfig(
            dim=encoder.dim,
            user_encoder=config.user_encoder,
            scorer=config.scorer,
            heads=config.heads,
            use_popularity=config.use_popularity,
            initial_scale=config.initial_scale,
            member_dims=member_dims(encoder),
        )
    ).to(world.device)
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
    return _Run(config, out_dir, world, started, data, encoding, table_row, model, loss, optimizer, scaler, trainable)


def _start_from(model_dir: Path, run: _Run) -> None:
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


def _resume(run: _Run, restart: bool) -> TrainingState:
    """Continue after the last finished epoch of a stopped run, unless told to start over."""
    if restart:
        if run.world.is_main:
            (run.out_dir / METRICS_FILE).unlink(missing_ok=True)
        return TrainingState()
    state = load_checkpoint(run.out_dir, run.config, run.model, run.optimizer, run.encoding)
    if state is None:
        return TrainingState()
    logger.info("resuming %s after epoch %d", run.out_dir, len(state.history))
    # the step count is not saved: a resumed run counts a full epoch of steps per finished epoch
    state.step = len(state.history) * run.data.steps_per_epoch
    return state


# --- one epoch -----------------------------------------------------------------------------------


def _train_epoch(run: _Run, progress: TrainingState, epoch: int) -> dict:
    """One pass over freshly sampled non-clicks; the epoch's record of loss, rows and time."""
    config, world = run.config, run.world
    run.model.train()
    run.encoding.start_epoch()
    rows = sample_rows(run.data.train, config.negatives, random.Random(config.seed + epoch))
    losses, seen, epoch_started = [], 0, time.perf_counter()
    with Progress(f"epoch {epoch}", len(rows), "rows", enabled=world.is_main) as bar:  # the main process reports
        for start in range(0, len(rows), config.batch_size):
            share = world.shard(rows[start : start + config.batch_size])
            seen += len(share)
            losses.append(_step(run, progress, share))
            bar.update(len(rows[start : start + config.batch_size]))
    run.encoding.after_epoch()
    return {
        "epoch": epoch,
        "train_loss": float(np.mean(losses)),
        "train_rows": seen,  # this process's share
        "step_seconds": round(time.perf_counter() - epoch_started, 2),  # this epoch's training steps
        "seconds": round(time.perf_counter() - run.started, 1),  # since the run started
    }


def _step(run: _Run, progress: TrainingState, rows: np.ndarray) -> float:
    loss = run.loss(*run.encoding.step_inputs(run.model, _batch(run, rows)))
    run.optimizer.zero_grad()
    if run.scaler is None:
        loss.backward()
        run.optimizer.step()
    else:
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
    progress.step += 1
    run.encoding.after_step(progress.step)
    return loss.item()


def _batch(run: _Run, rows: np.ndarray) -> Batch:
    """Rows of candidate slots (click first) as tensors: histories, candidates, their popularity."""
    train = run.data.train
    impressions = impressions_of(train, rows[:, 0])
    codes = train.candidates[rows]
    at = train.history_at
    histories = [run.table_row[train.history[at[i] : at[i + 1]]] for i in impressions.tolist()]
    features = run.data.train_popularity.features(rows, impressions, codes)
    return table_rows_batch(histories, run.table_row[codes], features, run.config.max_history)


def _validate(run: _Run) -> dict[str, float]:
    """This epoch's `valid_*` metrics; none without validation impressions."""
    valid, popularity = run.data.valid, run.data.popularity
    if not valid:
        return {}
    ranker = Ranker(run.model, run.encoding.table, popularity, run.config)
    tally = MetricTally(run.data.news, popularity.clicks_at_end())
    with Progress("validating", len(valid), "impressions", enabled=run.world.is_main) as bar:
        for chunk in valid.chunks(CHUNK):
            tally.add(chunk, ranker.score(chunk))
            bar.update(len(chunk))
    return {f"valid_{k}": v for k, v in tally.result().items() if k != "impressions"}


# --- saving --------------------------------------------------------------------------------------


def _end_epoch(run: _Run, progress: TrainingState, record: dict) -> None:
    """Save the model if this epoch is the best yet, then log the record and write the checkpoint.

    Every process keeps the same progress (so all stop alike); only the main one writes."""
    metric = _metric(record)
    if metric > progress.best_metric:
        progress.best_metric, progress.bad_epochs = metric, 0
        record["best"] = True
        if run.world.is_main:
            save_model(run.out_dir, run.model, run.encoding.encoder, run.config, run.data.popularity)
            (run.out_dir / CONFIG_FILE).write_text(run.config.model_dump_json(indent=2))
    else:
        progress.bad_epochs += 1
    progress.history.append(record)
    if run.world.is_main:
        log_epoch(run.out_dir, record, run.config.epochs)
        save_checkpoint(run.out_dir, run.config, run.model, run.optimizer, run.encoding, progress)


def _result(run: _Run, history: list[dict]) -> TrainResult:
    best = max(history, key=_metric)
    best_valid = {k[6:]: v for k, v in best.items() if k.startswith("valid_")} or None
    return TrainResult(
        run.out_dir, best["epoch"], best_valid, history, time.perf_counter() - run.started, run.trainable
    )
