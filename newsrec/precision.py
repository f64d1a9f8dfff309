"""Lower-precision matrix products where the device does them in hardware.

Under `torch.autocast` only the matrix products run in 16 bits; weights, norms, softmax and
losses stay fp32.
- CPU: bfloat16 where the CPU has AVX512-BF16 or AMX. There it encodes news about 2.5x faster
  (cosine to the fp32 vectors 1.0000) and takes training steps 1.5-1.9x faster at the same dev
  AUC (docs/BENCHMARKS.md); without those instructions bf16 is emulated and slower, so "auto"
  keeps fp32 there.
- CUDA: bfloat16 where the GPU has it (Ampere and later), else float16, whose small range needs
  a gradient scaler in training (`needs_scaler`).
- MPS: fp32 unless bf16 is asked for.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

__all__ = ["Precision", "PRECISIONS", "native_bf16", "products_dtype", "products", "needs_scaler"]

Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def products_dtype(precision: str, device: torch.device | str = "cpu") -> torch.dtype | None:
    """The dtype of matrix products for a precision setting on `device`; None: fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    kind = torch.device(device).type
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if kind == "cpu" and native_bf16():
        return torch.bfloat16
    return None


def products(device: torch.device | str, dtype: torch.dtype | None) -> torch.autocast:
    """Context in which matrix products on `device` run in `dtype` (a no-op for None)."""
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def needs_scaler(dtype: torch.dtype | None) -> bool:
    """float16 gradients underflow: training scales the loss (torch.amp.GradScaler)."""
    return dtype == torch.float16
