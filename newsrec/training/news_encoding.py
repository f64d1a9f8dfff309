"""The news side of training: frozen encoder or learning top layers, behind one interface.

The recipe asks the same things of both and never checks which it has: the news table (vectors
for history and validation), the trainable encoder parameters, a step's input embeddings and
the function from them to scores, the hooks after a step and after an epoch, and the encoder
state a checkpoint holds.

- `FrozenNews`: news vectors are computed once (through the on-disk cache) and are the step's
  inputs; augmentation swaps in vectors of paraphrased or noisy copies of news items.
- `TunedNews` (`finetune_layers > 0`): the frozen lower layers run once per news item
  (encoders/layer_cache.py); a step's inputs are the cached hidden states of its candidates,
  which run through the tuned layers with gradients. After every epoch the table is
  re-encoded, since the layers changed.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Sequence

import torch
from torch import nn

from newsrec.data.augment import augment
from newsrec.data.mind import News
from newsrec.encoders.base import Encoder
from newsrec.encoders.cache import EmbeddingCache
from newsrec.encoders.layer_cache import LayerCache
from newsrec.encoders.news_table import PAD, NewsTable
from newsrec.encoders.plm import PLM
from newsrec.models.batch import Batch
from newsrec.models.recommender import NewsRecommender
from newsrec.training.config import TrainConfig
from newsrec.training.distributed import World
from newsrec.training.loss import ScoresFn

__all__ = ["FrozenNews", "NewsEncoding", "TunedNews", "encode_news"]

logger = logging.getLogger(__name__)
StepInputs = tuple[list[torch.Tensor], ScoresFn]  # what ClickLoss takes: inputs x and scores(x)


class NewsEncoding:
    """The news side of training; the hooks do nothing here, which is all a frozen encoder needs."""

    plm: PLM | None = None  # the encoder whose layers learn (ClickLoss adds its regulariser)

    def __init__(self, encoder: Encoder, table: NewsTable, device: torch.device):
        self.encoder = encoder  # saved with the model
        self.table = table  # (N + 1, D) news vectors for history and validation, in host memory
        self.device = device  # where the step runs: its inputs are moved there

    def trainable(self) -> list[nn.Parameter]:
        """Encoder parameters for the optimiser."""
        return []

    def start_epoch(self) -> None:
        """Put the learning layers in training mode."""

    def step_inputs(self, model: NewsRecommender, batch: Batch) -> StepInputs:
        """The batch's input embeddings x and scores(x) -> (B, 1 + K), as ClickLoss takes them,
        on `device` (the batch comes in host memory)."""
        raise NotImplementedError

    def after_step(self, step: int) -> None:
        """Per-step bookkeeping of the tuning method."""

    def after_epoch(self) -> None:
        """Bring the table up to date with this epoch's weights."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder weights a checkpoint must hold to resume."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what `state_dict` returned."""


class FrozenNews(NewsEncoding):
    def __init__(
        self, encoder: Encoder, table: NewsTable, device: torch.device, alternatives: list[tuple[torch.Tensor, float]]
    ):
        super().__init__(encoder, table, device)
        self.alternatives = alternatives  # (N + 1, D) vectors and the chance each is shown instead

    def step_inputs(self, model: NewsRecommender, batch: Batch) -> StepInputs:
        """Inputs: the candidate (B, N, D) and history (B, H, D) vectors, some swapped for augmentation."""
        candidates, history = batch.vectors(self.table)
        for vectors, prob in self.alternatives:
            candidates = _swap_in(candidates, batch.candidates, vectors, prob)
            history = _swap_in(history, batch.history, vectors, prob)
        on = batch.to(self.device)
        inputs = [candidates.to(self.device), history.to(self.device)]
        return inputs, lambda x: model(x[0], x[1], on.history_mask, on.popularity)


class TunedNews(NewsEncoding):
    plm: PLM

    def __init__(self, plm: PLM, table: NewsTable, device: torch.device, news: dict[str, News], config: TrainConfig):
        super().__init__(plm, table, device)
        self.plm = plm
        self.layers = LayerCache(plm, [config.news_text(news[i]) for i in table.ids], config.encode_batch_size)

    def trainable(self) -> list[nn.Parameter]:
        return [p for p in self.plm.parameters() if p.requires_grad]

    def start_epoch(self) -> None:
        self.plm.train()  # dropout in the tuned layers; re-encoding switches to eval and back

    def step_inputs(self, model: NewsRecommender, batch: Batch) -> StepInputs:
        """Inputs: the cached hidden states of the batch's distinct candidates; history vectors come
        from the table (re-encoded after every epoch)."""
        rows = batch.candidates.flatten().unique()
        rows = rows[rows != PAD]
        hidden, attention = self.layers.batch((rows - 1).tolist(), self.device)
        position = torch.zeros(len(self.layers) + 1, dtype=torch.long)  # table row -> row of `vectors` below
        position[rows] = torch.arange(1, len(rows) + 1)
        on, candidates = batch.to(self.device), position[batch.candidates].to(self.device)
        history = self.table.vectors[batch.history].to(self.device)
        plm = self.plm

        def scores(x: Sequence[torch.Tensor]) -> torch.Tensor:
            vectors = torch.cat([torch.zeros(1, plm.dim, device=x[0].device), plm.upper(x[0], attention)])
            return model(vectors[candidates], history, on.history_mask, on.popularity)

        return [hidden], scores

    def after_step(self, step: int) -> None:
        self.plm.after_step(step)

    def after_epoch(self) -> None:
        self._reencode()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.plm.named_parameters() if v.requires_grad}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.plm.load_state_dict(state, strict=False)
        self._reencode()  # the table came from the pretrained weights

    def _reencode(self) -> None:
        self.table = NewsTable(self.table.ids, self.layers.encode_all(self.plm))


def encode_news(
    encoder: Encoder, news: dict[str, News], config: TrainConfig, cache: EmbeddingCache | None, world: World
) -> NewsEncoding:
    """Encode every needed news item, then wrap the encoder as frozen or tuned as `config` says."""
    with world.main_first():  # the main process fills the on-disk cache, so the others only read it
        table = NewsTable.encode(news, encoder, config.news_text, cache, config.encode_batch_size)
    if config.finetune_layers:
        assert isinstance(encoder, PLM), f"finetune_layers needs a transformers PLM, not {type(encoder).__name__}"
        return TunedNews(encoder, table, world.device, news, config)
    return FrozenNews(encoder, table, world.device, _alternative_vectors(config, news, table, encoder, cache))


def _alternative_vectors(
    config: TrainConfig, news: dict[str, News], table: NewsTable, encoder: Encoder, cache: EmbeddingCache | None
) -> list[tuple[torch.Tensor, float]]:
    """(N + 1, D) vectors of each news item as an LLM paraphrase / a noisy copy, with the chance
    a training news is shown that way (the original where an item has no such version)."""
    out = []
    if config.paraphrase_prob:
        from newsrec.llm.paraphrase import read_paraphrases

        assert config.paraphrases, "TrainConfig requires --paraphrases with paraphrase_prob > 0"
        titles = read_paraphrases(config.paraphrases)
        changed = {i: dataclasses.replace(n, title=titles[i]) for i, n in news.items() if i in titles}
        logger.info("paraphrase augmentation: %d of %d news have a paraphrased title", len(changed), len(news))
        out.append((_vectors_of(changed, table, encoder, config, cache), config.paraphrase_prob))
    if config.augment_prob:
        rng = random.Random(config.seed)
        noisy = {
            i: dataclasses.replace(
                n,
                title=augment(n.title, rng, config.token_dropout, config.token_swap),
                abstract=augment(n.abstract, rng, config.token_dropout, config.token_swap),
            )
            for i, n in news.items()
        }
        out.append((_vectors_of(noisy, table, encoder, config, cache), config.augment_prob))
    return out


def _vectors_of(
    changed: dict[str, News], table: NewsTable, encoder: Encoder, config: TrainConfig, cache: EmbeddingCache | None
) -> torch.Tensor:
    vectors = table.vectors.clone()
    if changed:
        alt = NewsTable.encode(changed, encoder, config.news_text, cache, config.encode_batch_size)
        vectors[table.rows(alt.ids)] = alt.vectors[1:]
    return vectors


def _swap_in(vectors: torch.Tensor, rows: torch.Tensor, alternative: torch.Tensor, prob: float) -> torch.Tensor:
    """Replace each (B, N, D) vector by its alternative with probability `prob`."""
    swap = (torch.rand(rows.shape) < prob).unsqueeze(-1)
    return torch.where(swap, alternative[rows], vectors)
