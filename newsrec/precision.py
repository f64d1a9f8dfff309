"""bf16 matrix products where the CPU multiplies bf16 in hardware.

Under `torch.autocast` only the matrix products run in bfloat16 (8-bit mantissa, fp32's range);
weights, norms, softmax and losses stay fp32. On CPUs with AVX512-BF16 or AMX this encodes news
about 2.5x faster (cosine to the fp32 vectors 1.0000) and takes training steps 1.5-1.9x faster at
the same dev AUC (docs/BENCHMARKS.md). Without those instructions bf16 is emulated and slower than fp32,
so "auto" keeps fp32 there.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

__all__ = ["Precision", "PRECISIONS", "native_bf16", "use_bf16", "bf16_products"]

Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def use_bf16(precision: str) -> bool:
    """Resolve a precision setting: "bf16", or "auto" on a CPU with native bf16."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return precision == "bf16" or (precision == "auto" and native_bf16())


def bf16_products(enabled: bool) -> torch.autocast:
    """Context in which matrix products run in bf16 (a no-op when not enabled)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)
