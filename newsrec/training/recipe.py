"""The training recipe, top to bottom: data, news encoding, model, epochs, validation, checkpoints.

Loss: softmax cross-entropy over each click and K sampled non-clicks of its impression
(training/loss.py), optionally plus an adversarial term (adversarial.py). With a frozen PLM
(the default) news vectors are computed once and cached on disk, and an epoch over the MIND
sample takes seconds. With `finetune_layers > 0` the top layers learn (fully, LoRA, AdaLoRA
or adapters). Everything that differs between the two, augmentation included, lives in
news_encoding.py.
Under torchrun, training is data-parallel (distributed.py): each process reads, trains on and
validates its own part of the impressions (parts.py).

`train` reads in parts: `load_data` and `set_up` (encoder, model, optimiser; setup.py), `_resume`,
then `_epochs`: per epoch `_train_epoch`, `_validate` and `_end_epoch` (best model, metrics line,
checkpoint). The best epoch is the one with the highest `_metric`, for early stopping and the
result alike.

The run writes into `out_dir`: config.json, model.json and model.pt (best epoch), popularity.json,
metrics.jsonl (one line per epoch), training_curve.png, train_summary.json (with each stage's
seconds and peak memory), and checkpoint.pt (the last epoch, for resuming after a kill: run
the same command again; Ctrl-C says whether there is one to resume from).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from newsrec.data.mind import News
from newsrec.device import resolve_device
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.choice import AUTO_ENCODER, encoder_for
from newsrec.evaluation.evaluate import SCORE_CHUNK, MetricTally
from newsrec.models.batch import Batch, table_rows_batch
from newsrec.models.ranker import Ranker, save_model
from newsrec.progress import Progress
from newsrec.stages import Stages
from newsrec.training.checkpoint import TrainingState, interrupt_says_what_resumes, load_checkpoint, save_checkpoint
from newsrec.training.config import TrainConfig
from newsrec.training.distributed import join_world
from newsrec.training.epoch_record import EpochRecord
from newsrec.training.logbook import METRICS_FILE, log_epoch, write_summary
from newsrec.training.parts import Log
from newsrec.training.samples import impressions_of, sample_rows
from newsrec.training.setup import TrainingRun, load_data, set_up, start_from

__all__ = ["TrainResult", "seed_everything", "train"]

logger = logging.getLogger(__name__)
CONFIG_FILE = "config.json"  # every training setting, for the record and for resuming


@dataclass
class TrainResult:
    out_dir: Path
    best_epoch: int
    best_valid: dict[str, float] | None
    history: list[EpochRecord]
    seconds: float
    trainable_parameters: int = 0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(
    config: TrainConfig,
    news: dict[str, News],
    train_impressions: Log,
    out_dir: str | Path,
    valid_impressions: Log | None = None,
    cache: EmbeddingCache | None = None,
    restart: bool = False,
    init: str | Path | None = None,
    device: str = "auto",
) -> TrainResult:
    """Train a recommender and save it to `out_dir`; resumes from its checkpoint if present.

    The impressions are given in memory or as files (`BehaviorsFiles`); under
    `torchrun --nproc_per_node=N` each process takes every N-th impression, and with files
    reads only those. `init` starts from the weights of a trained (e.g. served) model folder
    with the same settings of encoder and recommender. `device`: see `newsrec/device.py`.
    """
    out_dir = Path(out_dir)
    if config.encoder == AUTO_ENCODER:  # chosen once, here: the saved model names the encoder it was given
        config = config.model_copy(update={"encoder": encoder_for([n.title for n in news.values()])})
    with interrupt_says_what_resumes(out_dir, restart):
        started = time.perf_counter()
        world = join_world(resolve_device(device))
        out_dir.mkdir(parents=True, exist_ok=True)
        seed_everything(config.seed)

        stages = Stages()
        with stages("missing news and popularity replay"):
            data = load_data(config, news, train_impressions, valid_impressions, world, out_dir)
        with stages("news encoding and model"):
            run = set_up(config, data, cache, out_dir, world, started)
        if init is not None:
            start_from(Path(init), run)
        state = _resume(run, restart)
        _epochs(run, state, stages)

        if world.is_main:
            write_summary(
                out_dir,
                state.history,
                stages,
                trainable_parameters=run.trainable,
                seconds=round(time.perf_counter() - started, 1),
                processes=world.size,
                training_impressions=data.train_impressions,
            )
        world.barrier()
        return _result(run, state.history)


def _resume(run: TrainingRun, restart: bool) -> TrainingState:
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


# --- epochs --------------------------------------------------------------------------------------


def _epochs(run: TrainingRun, state: TrainingState, stages: Stages) -> None:
    """The epochs left, up to early stopping. Each is told in one line (`log_epoch`): its stages
    are timed for train_summary.json without lines of their own."""
    for epoch in range(len(state.history) + 1, run.config.epochs + 1):
        if state.bad_epochs >= run.config.patience:
            break
        with stages(f"epoch {epoch}", logged=False):
            record = _train_epoch(run, state, epoch)
        with stages(f"validation {epoch}", logged=False):
            record.valid = _validate(run)
        _end_epoch(run, state, record)


def _train_epoch(run: TrainingRun, state: TrainingState, epoch: int) -> EpochRecord:
    """One pass over freshly sampled non-clicks; the epoch's record of loss, rows and time.

    Each process samples rows from its part; a step takes batch_size / N of them in each of N
    processes. All take as many steps as the process with the most rows: one with fewer starts
    its rows over (as torch's DistributedSampler pads)."""
    config, world = run.config, run.world
    run.model.train()
    run.encoding.start_epoch()
    rng = random.Random((config.seed + epoch) * world.size + world.rank)  # one process: seed + epoch
    rows = sample_rows(run.data.train, config.negatives, rng)
    per_process = -(-config.batch_size // world.size)
    batches = [rows[start : start + per_process] for start in range(0, len(rows), per_process)]
    steps = world.most(len(batches))
    if not world.least(len(batches)):
        alone = "" if world.size == 1 else " in some process's part: use fewer processes"
        raise ValueError(f"no training impression has a click with a non-click beside it{alone}")
    shares = [batches[step % len(batches)] for step in range(steps)]
    taken = sum(map(len, shares))  # this process's rows, a repeated batch counted again
    losses, epoch_started = [], time.perf_counter()
    # the main process reports its own rows
    with Progress(f"epoch {epoch}", taken, "rows", enabled=world.is_main) as bar:
        for share in shares:
            losses.append(_step(run, state, share))
            bar.update(len(share))
    run.encoding.after_epoch()
    return EpochRecord(
        epoch,
        float(np.mean(losses)),
        taken,
        step_seconds=round(time.perf_counter() - epoch_started, 2),
        seconds=round(time.perf_counter() - run.started, 1),
    )


def _step(run: TrainingRun, state: TrainingState, rows: np.ndarray) -> float:
    loss = run.loss(*run.encoding.step_inputs(run.model, _batch(run, rows)))
    run.optimizer.zero_grad()
    if run.scaler is None:
        loss.backward()
        run.optimizer.step()
    else:
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
    state.step += 1
    run.encoding.after_step(state.step)
    return loss.item()


def _batch(run: TrainingRun, rows: np.ndarray) -> Batch:
    """Rows of candidate slots (click first) as tensors: histories, candidates, their popularity."""
    train = run.data.train
    impressions = impressions_of(train, rows[:, 0])
    codes = train.candidates[rows]
    at = train.history_at
    histories = [run.table_row[train.history[at[i] : at[i + 1]]] for i in impressions.tolist()]
    features = run.data.train_popularity.features(rows, impressions, codes)
    return table_rows_batch(histories, run.table_row[codes], features, run.config.max_history)


def _validate(run: TrainingRun) -> dict[str, float]:
    """This epoch's validation metrics; none without validation impressions. Each process scores
    its part; every process gets the metrics of all the parts together."""
    valid, popularity, world = run.data.valid, run.data.popularity, run.world
    if valid is None or not world.total(len(valid)):
        return {}
    ranker = Ranker(run.model, run.encoding.table, popularity, run.config)
    tally = MetricTally(run.data.news, popularity.clicks_at_end())
    with Progress("validating", len(valid), "impressions", enabled=world.is_main) as bar:
        for chunk in valid.chunks(SCORE_CHUNK):
            tally.add(chunk, ranker.score(chunk))
            bar.update(len(chunk))
    if world.size > 1:
        tally = MetricTally.merged(world.gather(tally.counted()))
    return {k: v for k, v in tally.result().items() if k not in ("impressions", "skipped")}


# --- saving --------------------------------------------------------------------------------------


def _end_epoch(run: TrainingRun, state: TrainingState, record: EpochRecord) -> None:
    """Save the model if this epoch is the best yet, then log the record and write the checkpoint.

    Every process keeps the same training state (so all stop alike); only the main one writes."""
    if record.metric > state.best_metric:
        state.best_metric, state.bad_epochs = record.metric, 0
        record.best = True
        if run.world.is_main:
            save_model(run.out_dir, run.model, run.encoding.encoder, run.config, run.data.popularity)
            (run.out_dir / CONFIG_FILE).write_text(run.config.model_dump_json(indent=2))
    else:
        state.bad_epochs += 1
    state.history.append(record)
    if run.world.is_main:
        log_epoch(run.out_dir, record, run.config.epochs)
        save_checkpoint(run.out_dir, run.config, run.model, run.optimizer, run.encoding, state)


def _result(run: TrainingRun, history: list[EpochRecord]) -> TrainResult:
    best = max(history, key=lambda record: record.metric)
    return TrainResult(
        run.out_dir, best.epoch, best.valid or None, history, time.perf_counter() - run.started, run.trainable
    )
