"""Universality: one hidden layer is enough to approximate any continuous function.

The network with one hidden layer of `width` units and one input x:

    f(x) = sum_j v_j * act(w_j x + b_j) + c          j = 1 .. width

Hornik (1991, "Approximation capabilities of multilayer feedforward networks"): if act is continuous, bounded
and non-constant, then for every continuous g on a closed interval [a, b] and every eps > 0 there is a width
and weights with  max_{a <= x <= b} |f(x) - g(x)| < eps.  (Leshno et al. 1993 extend this to any
non-polynomial activation, ReLU included.) The theorem says such weights exist; `fit` finds good ones by
gradient descent, and the error falls as the width grows. Each unit contributes one smoothed step (sigmoid,
tanh) or one kink (ReLU) at x = -b_j / w_j; `contributions` returns them, so one can watch them add up to g.
Discontinuous targets (`step`, `sawtooth`) lie outside the theorem: the RMS error still falls, but the max
error stays near half the jump, however wide the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from dlf.errors import ConfigError
from dlf.fundamentals import activations

# preset name -> expression in x (parsed by dlf.fundamentals.expr, like a typed --target)
PRESETS: dict[str, str] = {
    "sin": "sin(x)",
    "abs": "abs(x)",
    "poly": "0.1*x**3 - x",
    "gauss": "exp(-x**2)",
    "step": "heaviside(x)",
    "sawtooth": "mod(x, 2) - 1",
}
OPTIMIZERS = ("adam", "sgd", "lbfgs")
RIDGE = 1e-6  # ridge on the least-squares start of the output layer, per training point
# steepness of sigmoid and tanh units at the start, times sqrt(width); tanh(z) = 2 sigmoid(2z) - 1 is twice as steep
GAIN = {"sigmoid": 4.0, "tanh": 2.0}

TargetFn = Callable[[np.ndarray], np.ndarray]


class OneHiddenLayer(nn.Module):
    """f(x) = sum_j v_j act(w_j x + b_j) + c, one input and one output."""

    def __init__(self, width: int, activation: str = "tanh", dtype: torch.dtype = torch.float64):
        super().__init__()
        self.activation = activations.get(activation)
        self.w = nn.Parameter(torch.ones(width, dtype=dtype))  # (width,) input weights
        self.b = nn.Parameter(torch.zeros(width, dtype=dtype))  # (width,) hidden biases
        self.v = nn.Parameter(torch.zeros(width, dtype=dtype))  # (width,) output weights
        self.c = nn.Parameter(torch.zeros((), dtype=dtype))  # () output bias

    @property
    def width(self) -> int:
        return self.w.numel()

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """act(w_j x + b_j) for every point and unit: (N,) -> (N, width)."""
        return self.activation(x.reshape(-1, 1) * self.w + self.b)

    def contributions(self, x: torch.Tensor) -> torch.Tensor:
        """v_j act(w_j x + b_j): (N,) -> (N, width); their sum over units plus c is the output."""
        return self.hidden(x) * self.v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.contributions(x).sum(-1) + self.c  # (N,)

    def kinks(self) -> torch.Tensor:
        """Where each unit switches on, x = -b_j / w_j: (width,)."""
        return -self.b / self.w

    @torch.no_grad()
    def spread_kinks(self, interval: tuple[float, float], generator: torch.Generator | None = None) -> None:
        """Put unit j's switch at the j-th of `width` evenly spaced points, with a random direction and slope.

        The slope of sigmoid/tanh units grows like sqrt(width), so that wider networks can draw sharper detail.
        """
        lo, hi = interval
        n, dtype = self.width, self.w.dtype
        centres = lo + (hi - lo) * (torch.arange(n, dtype=dtype) + 0.5) / n  # (width,)
        sign = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0).to(dtype)
        scale = 0.5 + torch.rand(n, generator=generator, dtype=dtype)  # uniform in [0.5, 1.5)
        gain = GAIN[self.activation.name] * math.sqrt(n) if self.activation.name in GAIN else 1.0  # relu: any slope
        slope = 2.0 / (hi - lo) * gain
        self.w.copy_(sign * scale * slope)
        self.b.copy_(-self.w * centres)

    @torch.no_grad()
    def solve_output(self, x: torch.Tensor, y: torch.Tensor, ridge: float = RIDGE) -> None:
        """Set v and c to the least-squares best for the current hidden units (a ridge keeps v moderate)."""
        feats = torch.cat([self.hidden(x), torch.ones_like(x).reshape(-1, 1)], dim=1)  # (N, width + 1)
        gram = feats.T @ feats + ridge * len(x) * torch.eye(feats.shape[1], dtype=feats.dtype, device=feats.device)
        sol = torch.linalg.solve(gram, feats.T @ y)  # (width + 1,)
        self.v.copy_(sol[:-1])
        self.c.copy_(sol[-1])

    @torch.no_grad()
    def rescale(self, x_shift: float, x_scale: float, y_shift: float, y_scale: float) -> None:
        """Turn g(u) into f(x) = y_scale * g((x - x_shift) / x_scale) + y_shift, by changing the weights only."""
        self.b.sub_(self.w * x_shift / x_scale)
        self.w.div_(x_scale)
        self.v.mul_(y_scale)
        self.c.mul_(y_scale).add_(y_shift)


class FitResult(NamedTuple):
    model: OneHiddenLayer
    curve: np.ndarray
    """RMS error on the training points before each step, and after the last one: (steps + 1,)."""


def _optimizer(name: str, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "lbfgs":  # its step length comes from a line search, so lr is not used
        return torch.optim.LBFGS(params, lr=1.0, max_iter=1, history_size=20, line_search_fn="strong_wolfe")
    raise ConfigError(f"unknown optimizer '{name}'; choose one of {', '.join(OPTIMIZERS)}")


def schedule(t: int, steps: int, warmup: int) -> float:
    """Learning-rate factor at step t: linear warm-up to 1, then a cosine decay to 0 at `steps`."""
    return min(1.0, (t + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * t / max(steps, 1)))


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float, optimizer: str) -> np.ndarray:
    """Full-batch training on the mean squared error.

    adam and sgd warm the learning rate up over the first 5% of the steps (Adam's first steps are as large
    as lr for every weight, which would shake a good start), then decay it to 0 along a cosine.
    """
    opt = _optimizer(optimizer, list(model.parameters()), lr)
    warmup = max(1, steps // 20)
    decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: schedule(t, steps, warmup))
    curve = np.empty(steps + 1)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        return loss

    for t in range(steps):
        loss = float(opt.step(closure).detach())
        if not math.isfinite(loss):
            raise ConfigError(f"training diverged (the loss is {loss} at step {t}); lower --lr or use --optimizer adam")
        curve[t] = math.sqrt(loss)
        if optimizer != "lbfgs":
            decay.step()
    with torch.no_grad():
        curve[steps] = float(torch.mean((model(x) - y) ** 2).sqrt())
    return curve


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread: these tensors are small, and threads would only wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(
    target_fn: TargetFn,
    width: int,
    activation: str = "tanh",
    steps: int = 600,
    lr: float = 0.01,
    optimizer: str = "adam",
    interval: tuple[float, float] = (-math.pi, math.pi),
    points: int = 256,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> FitResult:
    """Fit f to target_fn on `points` evenly spaced x in `interval` (float64, full batch).

    The problem is first scaled to x in [-1, 1] and a target of mean 0 and spread 1, so the same lr suits any
    interval and any target; the hidden units' switches are spread over the interval, the output layer starts
    at its least-squares best, and then every weight is trained. The weights are scaled back at the end.
    """
    lo, hi = interval
    x_shift, x_scale = (lo + hi) / 2, (hi - lo) / 2
    x = np.linspace(lo, hi, points)
    y = np.asarray(target_fn(x), dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise ConfigError(f"the target is not finite on [{lo:g}, {hi:g}]; choose another interval or target")
    y_shift, y_scale = float(y.mean()), float(y.std()) or 1.0
    u = torch.from_numpy((x - x_shift) / x_scale).to(device)  # (points,) in [-1, 1]
    t = torch.from_numpy((y - y_shift) / y_scale).to(device)  # (points,) mean 0, std 1
    model = OneHiddenLayer(width, activation)
    model.spread_kinks((-1.0, 1.0), generator)
    model.to(device)
    with one_thread():
        model.solve_output(u, t)
        curve = train(model, u, t, steps, lr, optimizer) * y_scale
    model.rescale(x_shift, x_scale, y_shift, y_scale)
    return FitResult(model, curve)


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The network's output at the points x, as a numpy array: (N,) -> (N,)."""
    p = next(model.parameters())
    return model(torch.as_tensor(x, dtype=p.dtype, device=p.device)).cpu().numpy()


def errors(model: nn.Module, target_fn: TargetFn, interval: tuple[float, float], points: int = 4001) -> dict:
    """Max and RMS of f(x) - target(x) on a dense grid over the interval (denser than the training points)."""
    x = np.linspace(interval[0], interval[1], points)
    diff = predict(model, x) - target_fn(x)
    return {"max_error": float(np.abs(diff).max()), "rms_error": float(np.sqrt(np.mean(diff**2)))}
