"""One gradient-descent routine: batch size n, 1, k; hand gradients; convergence; reproducibility."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlf.errors import ConfigError
from dlf.fundamentals import linreg
from dlf.fundamentals.gradient_descent import gradient_descent
from dlf.fundamentals.losses import binary_cross_entropy
from dlf.fundamentals.neuron import bce_gradients, make_blobs, train_neuron

D = torch.float64


def _problem(n=64, d=2, noise=0.1, seed=0):
    x, y, _ = linreg.make_multivariate(n, d, torch.Generator().manual_seed(seed), noise=noise)
    return x, y


@pytest.mark.parametrize("batch, per_epoch", [(100, 1), (1, 100), (32, 4), (50, 2)])
def test_batch_size_sets_steps_per_epoch(batch, per_epoch):
    x, y = _problem(n=100)
    _, _, hist = linreg.fit_gd(x, y, lr=0.01, epochs=3, batch_size=batch, generator=torch.Generator())
    assert hist.steps_per_epoch == per_epoch
    assert hist.steps == 3 * per_epoch
    assert hist.step == list(range(3 * per_epoch + 1))  # recorded at the start and after every step
    assert hist.seen[-1] == 300 and hist.epoch[-1] == 3.0
    assert all(b > a for a, b in zip(hist.seen, hist.seen[1:]))


def test_hand_gradient_equals_autograd():
    x, y = _problem(n=30, d=4, seed=1)
    params = [torch.randn(4, dtype=D, requires_grad=True), torch.tensor(0.3, dtype=D, requires_grad=True)]
    auto = torch.autograd.grad(F.mse_loss(x @ params[0] + params[1], y), params)
    hand = linreg.grad([p.detach() for p in params], x, y)
    for h, a in zip(hand, auto):
        torch.testing.assert_close(h, a, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("batch, lr, epochs, tol_param", [(64, 0.3, 300, 1e-10), (1, 0.01, 50, 0.02),
                                                         (8, 0.05, 100, 0.01)])
def test_all_three_reach_the_closed_form(batch, lr, epochs, tol_param):
    x, y = _problem()
    w_cf, b_cf = linreg.closed_form(x, y)
    optimum = float(linreg.loss([w_cf, torch.tensor(b_cf)], x, y))
    w, b, hist = linreg.fit_gd(x, y, lr=lr, epochs=epochs, batch_size=batch, record_every=None,
                               generator=torch.Generator().manual_seed(1))
    assert linreg.rel_diff(w, b, w_cf, b_cf) < tol_param
    assert hist.loss[-1] < 1.02 * optimum
    assert hist.loss[-1] < hist.loss[0] / 100


def test_same_seed_same_history_other_seed_other_history():
    x, y = _problem()
    runs = [linreg.fit_gd(x, y, lr=0.02, epochs=3, batch_size=5, generator=torch.Generator().manual_seed(s))
            for s in (7, 7, 8)]
    (w1, b1, h1), (w2, b2, h2), (_, _, h3) = runs
    assert torch.equal(w1, w2) and b1 == b2
    assert h1.loss == h2.loss and h1.seen == h2.seen and h1.epoch == h2.epoch
    assert h1.loss != h3.loss  # the shuffle order matters for mini-batches


def test_params_are_not_changed_in_place():
    x, y = _problem()
    start = [torch.zeros(2, dtype=D), torch.zeros((), dtype=D)]
    gradient_descent(linreg.grad, linreg.loss, start, x, y, batch_size=8, lr=0.1, epochs=1,
                     generator=torch.Generator())
    assert float(start[0].abs().sum()) == 0.0


def test_any_grad_fn_full_batch_neuron_matches_train_neuron():
    """The routine is general: with the neuron's BCE gradients, full batch reproduces train_neuron exactly."""
    x, y = make_blobs(60, torch.Generator().manual_seed(2))
    def grad_fn(p, xb, yb):
        dw, db = bce_gradients(p[0], p[1], xb, yb)
        return [dw, torch.tensor(db, dtype=D)]

    loss_fn = lambda p, xb, yb: binary_cross_entropy(xb @ p[0] + p[1], yb)
    (w, b), hist = gradient_descent(grad_fn, loss_fn, [torch.zeros(2, dtype=D), torch.zeros((), dtype=D)], x, y,
                                    batch_size=60, lr=0.5, epochs=40, generator=torch.Generator())
    neuron, trace = train_neuron(x, y, lr=0.5, steps=40)
    torch.testing.assert_close(w, neuron.w, rtol=1e-12, atol=1e-14)
    assert float(b) == pytest.approx(neuron.b, rel=1e-12)
    assert hist.loss == pytest.approx(trace.loss, rel=1e-12)


def test_tolerance_stops_early_and_large_lr_is_flagged_as_diverged():
    x, y = _problem()
    limit = linreg.stable_lr(x)
    _, _, good = linreg.fit_gd(x, y, lr=0.9 * limit, epochs=10_000, tol=1e-10, generator=torch.Generator())
    assert good.converged and not good.diverged and good.steps < 10_000
    _, _, bad = linreg.fit_gd(x, y, lr=1.1 * limit, epochs=10_000, tol=1e-10, generator=torch.Generator())
    assert bad.diverged and not bad.converged and bad.steps < 10_000
    assert not math.isfinite(bad.loss[-1]) or bad.loss[-1] > 1e12


def test_bad_batch_size_is_a_config_error():
    x, y = _problem(n=10)
    with pytest.raises(ConfigError, match=r"--batch-size must lie in \[1, 10\]"):
        linreg.fit_gd(x, y, lr=0.1, epochs=1, batch_size=11, generator=torch.Generator())
