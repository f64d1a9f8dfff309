"""Adversarial training on input embeddings: FGM (one step) and PGD (several projected steps).

The inputs are the model's embeddings of the news: the news vectors with a frozen PLM, or the
hidden states fed to the PLM's tuned layers. Each vector x gets a perturbation r in the
direction that raises the loss, of size `epsilon * |x|` (relative, so one epsilon suits unit
news vectors and token states alike); training then minimises clean + perturbed loss.

The perturbation is added to copies of the inputs, never written into weights or the news
table, so nothing has to be restored afterwards (the tests check that nothing changed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, get_args

import torch

__all__ = ["AdversarialMethod", "ADVERSARIAL_METHODS", "adversarial_loss"]

AdversarialMethod = Literal["none", "fgm", "pgd"]
ADVERSARIAL_METHODS: tuple[str, ...] = get_args(AdversarialMethod)


def _unit(g: torch.Tensor) -> torch.Tensor:
    return g / g.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def _project(r: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    norm = r.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return r * torch.clamp(radius / norm, max=1.0)


def adversarial_loss(
    loss_fn: Callable[[Sequence[torch.Tensor]], torch.Tensor],
    inputs: Sequence[torch.Tensor],
    method: str,
    epsilon: float,
    steps: int = 3,
) -> torch.Tensor:
    """The loss at adversarially perturbed inputs (to add to the clean loss before `backward`).

    `loss_fn(inputs)` must compute the training loss from the given input tensors (..., D).
    FGM: r = epsilon |x| g / |g| with g the loss gradient at x. PGD: `steps` ascent steps of
    size 2 epsilon / steps, each projected back onto the ball |r| <= epsilon |x|.
    """
    if method not in ADVERSARIAL_METHODS or method == "none":
        raise ValueError(f"adversarial method must be one of {ADVERSARIAL_METHODS[1:]}, got {method!r}")
    base = [x.detach() for x in inputs]
    radius = [epsilon * x.norm(dim=-1, keepdim=True) for x in base]
    deltas = [torch.zeros_like(x, requires_grad=True) for x in base]
    rounds = 1 if method == "fgm" else steps
    step_size = 1.0 if method == "fgm" else 2.0 / steps
    for _ in range(rounds):
        loss = loss_fn([x + d for x, d in zip(base, deltas)])
        grads = torch.autograd.grad(loss, deltas, allow_unused=True)  # parameters' grads stay untouched
        deltas = [
            _project(
                d.detach() + step_size * r * _unit(g if g is not None else torch.zeros_like(d)), r
            ).requires_grad_()
            for d, g, r in zip(deltas, grads, radius)
        ]
    return loss_fn([x + d.detach() for x, d in zip(base, deltas)])
