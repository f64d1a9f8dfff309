"""The training loss of one batch, as one module so DistributedDataParallel can wrap it.

loss = CE(scores(x), click) [+ CE(scores(x + r_adv), click)] [+ tuning regulariser]

CE is the softmax cross-entropy of the clicked news (column 0) among its K sampled
non-clicks. `x` are the batch's input embeddings (news vectors, or the hidden states that
enter the PLM's tuned layers) and `scores(x)` maps them to (B, 1 + K) scores. With `dtype` the
matrix products run in bfloat16 or float16 (`newsrec/precision.py`); weights and gradients
stay fp32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from newsrec.encoders.plm import PLM
from newsrec.models.recommender import NewsRecommender
from newsrec.precision import products
from newsrec.training.adversarial import adversarial_loss

__all__ = ["ClickLoss"]

ScoresFn = Callable[[Sequence[torch.Tensor]], torch.Tensor]


class ClickLoss(nn.Module):
    def __init__(
        self,
        model: NewsRecommender,
        plm: PLM | None,
        adversarial: str = "none",
        epsilon: float = 0.05,
        steps: int = 3,
        dtype: torch.dtype | None = None,
    ):
        super().__init__()
        self.model = model
        self.plm = plm  # only when its top layers learn
        self.adversarial, self.epsilon, self.steps = adversarial, epsilon, steps
        self.dtype = dtype  # of the matrix products; None: fp32

    def forward(self, inputs: Sequence[torch.Tensor], scores: ScoresFn) -> torch.Tensor:
        def cross_entropy(x: Sequence[torch.Tensor]) -> torch.Tensor:
            with products(x[0].device, self.dtype):
                s = scores(x)
            return nn.functional.cross_entropy(s.float(), torch.zeros(len(s), dtype=torch.long, device=s.device))

        loss = cross_entropy(inputs)
        if self.adversarial != "none":
            loss = loss + adversarial_loss(cross_entropy, inputs, self.adversarial, self.epsilon, self.steps)
        if self.plm is not None:
            loss = loss + self.plm.regularization()
        return loss
