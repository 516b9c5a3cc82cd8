"""The neuron: its formula, when it fires, its hand gradients against autograd, and training on separable blobs."""

import pytest
import torch
import torch.nn.functional as F

from dlf.errors import ConfigError, DataError
from dlf.fundamentals.neuron import Neuron, bce_gradients, make_blobs, train_neuron

D = torch.float64


@pytest.mark.parametrize("name, fn", [("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu)])
def test_output_is_activation_of_weighted_sum(name, fn):
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(3, generator=g, dtype=D), torch.randn(10, 3, generator=g, dtype=D)
    neuron = Neuron(w, -0.4, name)
    z = x[:, 0] * w[0] + x[:, 1] * w[1] + x[:, 2] * w[2] - 0.4
    torch.testing.assert_close(neuron.z(x), z)
    torch.testing.assert_close(neuron(x), fn(z))
    torch.testing.assert_close(neuron.output(x[3]), fn(z[3]))  # one input (d,) gives a scalar


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_fires_exactly_when_weighted_sum_is_positive(name):
    neuron = Neuron(torch.tensor([1.0, -2.0]), 0.5, name)
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [3.0, 1.0], [-0.5, 0.0], [0.0, 0.3]], dtype=D)  # z = .5 -1.5 1.5 0 -.1
    assert neuron.fires(x).tolist() == [True, False, True, False, False]


def test_formula_shows_current_numbers():
    neuron = Neuron(torch.tensor([0.5, -1.25]), 0.3, "tanh")
    assert neuron.formula() == "output = tanh(0.5·x1 - 1.25·x2 + 0.3)"
    text = neuron.formula(torch.tensor([1.0, 2.0]))
    assert "z = -1.7" in text and "tanh(z) = -0.9354" in text and "does not fire" in text
    assert "(fires)" in Neuron(torch.tensor([2.0]), -1.0).formula(torch.tensor([1.0]))


def test_bad_activation_and_input_size():
    with pytest.raises(ConfigError):
        Neuron(torch.zeros(2), 0.0, "step")
    with pytest.raises(DataError, match="2 weights but the input has 3 features"):
        Neuron(torch.zeros(2)).z(torch.zeros(3))


def test_hand_gradient_equals_autograd():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 3, generator=g, dtype=D) * 3
    y = (torch.rand(40, generator=g, dtype=D) > 0.4).to(D)
    w = torch.randn(3, generator=g, dtype=D).requires_grad_(True)
    b = torch.tensor(0.7, dtype=D, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x @ w + b, y)
    auto_w, auto_b = torch.autograd.grad(loss, (w, b))
    hand_w, hand_b = bce_gradients(w.detach(), 0.7, x, y)
    torch.testing.assert_close(hand_w, auto_w, rtol=1e-12, atol=1e-14)
    assert hand_b == pytest.approx(float(auto_b), rel=1e-12, abs=1e-14)


def test_blobs_are_balanced_separated_and_reproducible():
    x, y = make_blobs(101, torch.Generator().manual_seed(3), distance=3.0, margin=0.5)
    x2, y2 = make_blobs(101, torch.Generator().manual_seed(3), distance=3.0, margin=0.5)
    assert x.shape == (101, 2) and torch.equal(x, x2) and torch.equal(y, y2)
    assert int(y.sum()) == 50
    # the gap: the closest pair across the classes is at least the margin apart
    assert float(torch.cdist(x[y == 0], x[y == 1]).min()) >= 0.5
    with pytest.raises(DataError, match="must exceed the margin"):
        make_blobs(10, torch.Generator(), distance=0.4, margin=0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_separates_the_blobs(seed):
    x, y = make_blobs(200, torch.Generator().manual_seed(seed))
    neuron, trace = train_neuron(x, y, lr=0.5, steps=300)
    assert len(trace.loss) == 301
    assert trace.loss[0] == pytest.approx(0.6931471805599453)  # w = 0, b = 0: p = 1/2 everywhere
    assert all(a > b for a, b in zip(trace.loss, trace.loss[1:]))  # convex, small enough step: monotone
    assert torch.equal(neuron.fires(x), y.bool())
    assert trace.loss[-1] < 0.05
