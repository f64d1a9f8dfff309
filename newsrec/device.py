"""Which device runs the tensors: `auto` (CUDA when present, else Apple's MPS, else the CPU),
`cpu`, `cuda`, `cuda:N` or `mps`. One function, so every command reads `--device` alike.

CUDA ran on a lent H200 (bench/gpu_check.sh, README "Large data and GPUs"); MPS has not run.
"""

from __future__ import annotations

import re

import torch

__all__ = ["resolve_device", "DEVICE_HELP"]

DEVICE_HELP = "auto (CUDA when present, else MPS, else the CPU) | cpu | cuda | cuda:N | mps"


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device `name` asks for; a clear error for one this machine lacks."""
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if match := re.fullmatch(r"cuda(?::(\d+))?", name):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: this machine has no CUDA GPU that torch can use; use cpu or auto")
        index = int(match.group(1) or torch.cuda.current_device())
        if index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), 0-based")
        return torch.device("cuda", index)
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError("--device mps: Apple's Metal backend is not available here; use cpu or auto")
        return torch.device("mps")
    raise ValueError(f"unknown device {name!r}: use {DEVICE_HELP}")
