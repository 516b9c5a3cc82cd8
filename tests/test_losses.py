"""Losses: value and gradient against torch (functional losses and autograd) in float64, extreme logits included."""

import pytest
import torch
import torch.nn.functional as F

from dlf.errors import DataError
from dlf.fundamentals import losses

D = torch.float64


def _autograd(fn, first, *rest):
    """Value of fn(first, *rest) and its gradient w.r.t. `first` by autograd."""
    leaf = first.detach().clone().requires_grad_(True)
    value = fn(leaf, *rest)
    (grad,) = torch.autograd.grad(value, leaf)
    return value.detach(), grad


def _check(ours, ours_grad, reference, first, *rest):
    """Our value equals torch's; our hand gradient equals autograd of torch's loss and of our own loss."""
    ref_value, ref_grad = _autograd(reference, first, *rest)
    own_value, own_autograd = _autograd(ours, first, *rest)
    hand = ours_grad(first, *rest)
    assert torch.isfinite(own_value) and torch.isfinite(hand).all()
    torch.testing.assert_close(own_value, ref_value, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(hand, ref_grad, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(own_autograd, ref_grad, rtol=1e-10, atol=1e-14)


def test_mse_value_and_gradient():
    g = torch.Generator().manual_seed(0)
    pred, y = torch.randn(7, 3, generator=g, dtype=D), torch.randn(7, 3, generator=g, dtype=D)
    _check(losses.mse, losses.mse_grad, F.mse_loss, pred, y)


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_binary_cross_entropy_matches_torch(scale):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(50, generator=g, dtype=D) * scale
    y = (torch.rand(50, generator=g, dtype=D) > 0.5).to(D)
    _check(losses.binary_cross_entropy, losses.binary_cross_entropy_grad, F.binary_cross_entropy_with_logits,
           logits, y)


def test_binary_cross_entropy_extreme_logits_and_soft_labels():
    logits = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0, 3.0], dtype=D)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.25], dtype=D)
    _check(losses.binary_cross_entropy, losses.binary_cross_entropy_grad, F.binary_cross_entropy_with_logits,
           logits, y)
    # a confident right answer costs ~0, a confident wrong one costs |z|
    assert float(losses.binary_cross_entropy(logits[:1], y[:1])) == 0.0
    assert float(losses.binary_cross_entropy(logits[2:3], y[2:3])) == pytest.approx(1e4)


def test_softplus_is_stable():
    z = torch.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=D)
    torch.testing.assert_close(losses.softplus(z), F.softplus(z), rtol=1e-14, atol=0)
    assert float(losses.softplus(z)[-1]) == 1e4


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_cross_entropy_matches_torch(scale):
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(9, 5, generator=g, dtype=D) * scale
    labels = torch.randint(0, 5, (9,), generator=g)
    _check(losses.cross_entropy, losses.cross_entropy_grad, F.cross_entropy, logits, labels)


def test_cross_entropy_extreme_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, 0.0]], dtype=D)
    labels = torch.tensor([1, 2, 0])
    _check(losses.cross_entropy, losses.cross_entropy_grad, F.cross_entropy, logits, labels)
    assert float(losses.cross_entropy(logits[:1], labels[:1])) == pytest.approx(2e4)


def test_softmax_and_log_softmax_match_torch():
    z = torch.tensor([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]], dtype=D)
    torch.testing.assert_close(losses.softmax(z), torch.softmax(z, dim=-1))
    torch.testing.assert_close(losses.log_softmax(z), torch.log_softmax(z, dim=-1))


def test_bad_inputs_are_data_errors():
    with pytest.raises(DataError, match="integer class labels"):
        losses.cross_entropy(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(DataError, match=r"\[0, 2\]"):
        losses.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(DataError, match="shape"):
        losses.mse(torch.zeros(3), torch.zeros(3, 1))
