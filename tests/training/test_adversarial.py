"""FGM / PGD: bounded perturbations of copies of the inputs, never of weights or data."""

import pytest
import torch

from newsrec.training.adversarial import adversarial_loss


@pytest.mark.parametrize("method", ["fgm", "pgd"])
def test_adversarial_loss_is_finite_bounded_and_leaves_weights_and_inputs_alone(method):
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 1)
    x = torch.nn.functional.normalize(torch.randn(4, 5, 8), dim=-1)
    x_before, w_before = x.clone(), layer.weight.detach().clone()
    seen = []

    def loss_fn(inputs):
        seen.append(inputs[0].detach())
        scores = layer(inputs[0]).squeeze(-1)
        return torch.nn.functional.cross_entropy(scores, torch.zeros(4, dtype=torch.long))

    clean = loss_fn([x])
    adv = adversarial_loss(loss_fn, [x], method, epsilon=0.1, steps=3)
    assert torch.isfinite(adv) and adv > clean  # the perturbation found a worse point
    assert torch.equal(x, x_before) and torch.equal(layer.weight, w_before) and layer.weight.grad is None
    shift = (seen[-1] - x).norm(dim=-1)
    assert shift.max() <= 0.1 * x.norm(dim=-1).max() + 1e-6  # within epsilon |x|
    adv.backward()
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()
