"""Playground networks trained live on the Classification page: a step at a time, several at once.

`LivePlay` wraps one dlf.fundamentals.playground network with what live training needs: where it is in the
current epoch (mini-batches visit every training point once per epoch, in an order drawn from the network's
generator, exactly as Playground.train and gradient_descent do) and the training and test loss curves.

`train_together(lives, deadline, max_steps, ...)` trains several such networks in one batched step: networks
of the same shape (layer widths, activation, classification or regression) and batch size are stacked, each a
row of (G, out, in) weight tensors, and each keeps its own data, epoch order, learning rate and L1 / L2
strengths. The gradient is autograd's, of the sum of each row's objective (the rows share no weights, so each
row's gradient is its own network's). A step of this tiny network is nearly all fixed cost, so ten stacked
networks cost little more than one: that is what lets a classroom train at once (dlf.explore.workers). One
network alone goes through the same function.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from dlf.explore.session import Curve
from dlf.fundamentals import activations
from dlf.fundamentals import playground as pg
from dlf.fundamentals.losses import softplus

Tensor = torch.Tensor


class LivePlay:
    """A playground network trained a step at a time: its epoch position and its loss curves."""

    def __init__(self, net: pg.Playground):
        self.net = net
        self.order: Tensor | None = None  # the current epoch's order of the training points
        self.pos = 0  # the next batch starts here in `order`
        self.train_curve, self.test_curve = Curve(), Curve()
        self.accuracy: list[float] = []  # on the training and the test points, at the last record
        self._grid: tuple[Tensor, Tensor] | None = None  # points shown and their features (see `grids`)
        self.record()

    def shape(self) -> tuple:
        """What networks trained together share: layer widths, activation, and the kind of loss."""
        return self.net.sizes, self.net.activation, self.net.regression

    def next_batch(self, batch_size: int) -> Tensor:
        """The indices of the next mini-batch; a new epoch draws a new order (no shuffle for a full batch)."""
        n = self.net.phi_train.shape[0]
        size = min(max(batch_size, 1), n)
        if self.order is None or self.pos >= n:
            self.order = torch.randperm(n, generator=self.net.generator) if size < n else torch.arange(n)
            self.pos = 0
        idx = self.order[self.pos : self.pos + size]
        self.pos += size
        if self.pos >= n:
            self.net.epochs += 1
        return idx

    def record(self) -> tuple[float, float]:
        """Add the training and test loss (data loss, no penalty) to the curves; return them. The accuracy on
        both (NaN in regression) stays in `accuracy`."""
        train, test, *accuracy = self.net.evaluate()
        self._add(train, test, accuracy)
        return train, test

    def _add(self, train: float, test: float, accuracy: list[float]) -> None:
        self.train_curve.add(self.net.steps, train)
        self.test_curve.add(self.net.steps, test)
        self.accuracy = accuracy

    def update(self) -> None:
        """Record the losses unless they are recorded for the network's current step (a frame records them; a
        slice of training does not, for evaluating all points costs as much as a few steps)."""
        if self.train_curve.steps[-1] != self.net.steps:
            self.record()

    def grids(self, points: Tensor) -> list[Tensor]:
        """Every unit's output at the raw points (N, 2), column by column, the output as Playground.neuron_outputs
        gives it; and, from the same forward pass, the losses recorded as `update` does (what a frame shows).

        The features of the points and of the training and test points are concatenated once per network (they
        never change), so a frame costs one pass of the network."""
        net = self.net
        if self._grid is None or self._grid[0] is not points:
            self._grid = points, torch.cat([net.phi(points), net.phi_train, net.phi_test])
        outs = pg.layers(net.params, self._grid[1], net.activation)
        n, n_train = points.shape[0], net.phi_train.shape[0]
        if self.train_curve.steps[-1] != net.steps:
            z = outs[-1].squeeze(1)
            (train, train_acc), (test, test_acc) = (pg.score(zs, y, net.regression) for zs, y in (
                (z[n : n + n_train], net.data.y_train), (z[n + n_train :], net.data.y_test)))
            self._add(train, test, [train_acc, test_acc])
        outs = [o[:n] for o in outs]
        if not net.regression:
            outs[-1] = activations.sigmoid(outs[-1])
        return outs

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_grid": None}  # a cache: not sent to a worker process


def _forward(params: Sequence[Tensor], x: Tensor, activation: str) -> Tensor:
    """Stacked networks: x (G, B, k) -> z (G, B), as playground.forward row by row. (playground.layers with
    batched matrices and broadcast biases gives the same numbers, but its separate add costs a quarter more per
    step than baddbmm, and this is the classroom's hot loop.)"""
    act = pg.activation_fn(activation)
    h = x
    for i in range(0, len(params) - 2, 2):
        h = act(torch.baddbmm(params[i + 1].unsqueeze(1), h, params[i].transpose(1, 2)))  # (G, B, h_l)
    return torch.baddbmm(params[-1].unsqueeze(1), h, params[-2].transpose(1, 2)).squeeze(2)  # (G, B)


def train_together(lives: Sequence[LivePlay], deadline: float, max_steps: int, lrs: Sequence[float],
                   l2s: Sequence[float], l1s: Sequence[float], batch_size: int) -> list[int]:
    """Train each network until perf_counter() passes `deadline` (at least one step) or `max_steps` steps.

    All must share `LivePlay.shape()`. Returns each network's steps, or -1 for one whose weights stopped being
    finite (diverged). The loss curves are left to `LivePlay.update`.
    """
    if len({live.shape() for live in lives}) != 1:
        raise ValueError("networks trained together need the same layer widths, activation and loss")
    net0 = lives[0].net
    g = len(lives)
    params = [torch.stack([live.net.params[i] for live in lives]) for i in range(len(net0.params))]
    lr = torch.tensor(lrs, dtype=pg.D)
    lr_of = [lr.view(-1, *([1] * (p.dim() - 1))) for p in params]  # each row's rate, shaped for its parameter
    l2, l1 = torch.tensor(l2s, dtype=pg.D), torch.tensor(l1s, dtype=pg.D)
    use_l2, use_l1 = any(v > 0 for v in l2s), any(v > 0 for v in l1s)
    weights = range(0, len(params), 2)
    k = net0.phi_train.shape[1]
    steps = 0
    while steps < max(max_steps, 1):
        batches = [live.next_batch(batch_size) for live in lives]
        size = max(len(b) for b in batches)
        if g == 1:  # one network: no padding
            x, y = net0.phi_train[batches[0]].unsqueeze(0), net0.data.y_train[batches[0]].unsqueeze(0)  # (1, B, k)
            mask = torch.full((1, size), 1.0 / size, dtype=pg.D)
        else:
            x = torch.zeros(g, size, k, dtype=pg.D)  # (G, B, k), rows padded with zeros
            y, mask = torch.zeros(g, size, dtype=pg.D), torch.zeros(g, size, dtype=pg.D)  # (G, B)
            for r, (live, idx) in enumerate(zip(lives, batches)):
                x[r, : len(idx)], y[r, : len(idx)] = live.net.phi_train[idx], live.net.data.y_train[idx]
                mask[r, : len(idx)] = 1.0 / len(idx)  # the mean over the row's own batch
        ps = [p.detach().requires_grad_() for p in params]
        z = _forward(ps, x, net0.activation)
        per_point = (z - y) ** 2 if net0.regression else softplus(z) - y * z
        loss = (mask * per_point).sum()  # the sum of each row's mean data loss ...
        if use_l2:  # ... and of each row's penalties on its weights (not the biases)
            loss = loss + (0.5 * l2 * sum((ps[i] ** 2).sum((1, 2)) for i in weights)).sum()
        if use_l1:
            loss = loss + (l1 * sum(ps[i].abs().sum((1, 2)) for i in weights)).sum()
        grads = torch.autograd.grad(loss, ps)
        params = [p - r * gr for p, r, gr in zip(params, lr_of, grads)]  # w <- w - lr * grad, row by row
        steps += 1
        if time.perf_counter() >= deadline:
            break
    took = []
    for r, live in enumerate(lives):
        live.net.params = [p[r].clone() for p in params]
        live.net.steps += steps
        live.net.diverged = live.net.diverged or not all(bool(torch.isfinite(p).all()) for p in live.net.params)
        took.append(-1 if live.net.diverged else steps)
    return took
