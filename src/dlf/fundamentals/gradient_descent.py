"""Gradient descent, one routine for its three flavours: the batch size decides which.

    theta <- theta - lr * grad L_B(theta),    L_B = the loss on a batch B of the training examples

    batch size n (all examples)   full-batch gradient descent: 1 exact step per epoch
    batch size 1                  stochastic gradient descent (SGD): n noisy steps per epoch
    batch size k (1 < k < n)      mini-batch gradient descent: ceil(n / k) steps per epoch

Each epoch visits every example once, in an order drawn from the given torch.Generator (the last batch of an
epoch may be smaller; a full batch needs no shuffle). The gradient comes from `grad_fn(params, xb, yb)`,
written by hand, not by autograd. The history records the loss on the *whole* data set, the examples seen so
far and the wall time, so the flavours can be compared per epoch, per example and per second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from dlf.errors import ConfigError

Tensor = torch.Tensor
Params = list[Tensor]
GradFn = Callable[[Sequence[Tensor], Tensor, Tensor], Sequence[Tensor]]
LossFn = Callable[[Sequence[Tensor], Tensor, Tensor], Tensor]

DIVERGED = 1e12
"""Descent stops as diverged once the full loss is inf, NaN or above DIVERGED * (starting loss + 1)."""


@dataclass
class History:
    """The loss on the full data set at recorded steps, with examples seen, epoch and compute time."""

    batch_size: int
    steps_per_epoch: int
    step: list[int] = field(default_factory=list)
    epoch: list[float] = field(default_factory=list)
    """Epochs done at the record, fractional within an epoch."""
    seen: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    time_s: list[float] = field(default_factory=list)
    """Seconds spent on updates so far (the loss evaluations for the history are not counted)."""
    steps: int = 0
    converged: bool = False
    """True when the relative parameter change fell below `tol`."""
    diverged: bool = False
    """True when the loss blew up (see DIVERGED): the learning rate is too large."""

    def first_seen_below(self, target: float) -> int | None:
        """Examples seen at the first record whose loss is <= target (None if never)."""
        return next((s for s, v in zip(self.seen, self.loss) if v <= target), None)


def _norm(tensors: Sequence[Tensor]) -> float:
    return math.sqrt(sum(float((t * t).sum()) for t in tensors))


def gradient_descent(
    grad_fn: GradFn,
    loss_fn: LossFn,
    params: Sequence[Tensor],
    x: Tensor,
    y: Tensor,
    *,
    batch_size: int,
    lr: float,
    epochs: int,
    generator: torch.Generator,
    record_every: int | None = 1,
    tol: float | None = None,
    shuffle: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[Params, History]:
    """Run `epochs` epochs of descent on (x, y) with batches of `batch_size`; return the final params and history.

    Args:
        grad_fn: (params, xb, yb) -> gradient of the batch loss, one tensor per parameter.
        loss_fn: (params, x, y) -> loss, evaluated on the full data set for the history.
        params: starting parameters; copied, never changed in place.
        record_every: record the full loss every this many steps (and always at the start and the end);
            None records only the start and the end.
        tol: stop once ||theta_new - theta|| / ||theta|| < tol (checked after every step); None never stops early.
        progress: called with the epoch number after each epoch (e.g. a progress bar's update).
    """
    n = x.shape[0]
    if not 1 <= batch_size <= n:
        raise ConfigError(f"--batch-size must lie in [1, {n}] for {n} examples (got {batch_size})")
    if lr <= 0 or epochs < 0:
        raise ConfigError(f"gradient descent needs lr > 0 and epochs >= 0 (got lr={lr}, epochs={epochs})")
    params = [p.detach().clone() for p in params]
    hist = History(batch_size=batch_size, steps_per_epoch=math.ceil(n / batch_size))
    clock, seen = 0.0, 0

    def record(epoch: float) -> None:
        loss = float(loss_fn(params, x, y))
        hist.step.append(hist.steps)
        hist.epoch.append(epoch)
        hist.seen.append(seen)
        hist.loss.append(loss)
        hist.time_s.append(clock)
        hist.diverged = not math.isfinite(loss) or loss > DIVERGED * (hist.loss[0] + 1)

    record(0.0)
    for epoch in range(epochs):
        start = time.perf_counter()
        if shuffle and batch_size < n:  # a full batch is the same set in any order: no shuffle needed
            order = torch.randperm(n, generator=generator)
            xs, ys = x[order], y[order]  # one gather per epoch; the batches below are views
        else:
            xs, ys = x, y
        for i in range(0, n, batch_size):
            xb, yb = xs[i : i + batch_size], ys[i : i + batch_size]
            grads = grad_fn(params, xb, yb)
            for p, g in zip(params, grads):
                p -= lr * g  # the update: theta <- theta - lr * grad
            hist.steps += 1
            seen += xb.shape[0]
            if tol is not None and lr * _norm(grads) <= tol * max(_norm(params), 1e-300):
                hist.converged = True
            if (record_every and hist.steps % record_every == 0) or hist.converged:
                clock += time.perf_counter() - start
                record(epoch + (i + xb.shape[0]) / n)
                if hist.converged or hist.diverged:
                    return params, hist
                start = time.perf_counter()
        clock += time.perf_counter() - start
        if progress is not None:
            progress(epoch + 1)
    if hist.step[-1] != hist.steps:
        record(float(epochs))
    return params, hist
