"""The classification playground: TensorFlow Playground's four data sets and a small network trained live.

Data. n points x = (x1, x2) in about [-6, 6]^2, each with a label y in {0, 1}:

    circle     y = 1 inside radius 2.5, y = 0 on the ring 3.5 < r < 5
    xor        y = 1 where x1 x2 >= 0 (points keep 0.3 away from the axes)
    spirals    two interleaved spirals r = 5 t, angle 1.75 * 2 pi t (+ pi for class 0), t in [0, 1)
    gaussians  two Gaussian blobs of spread 1 around (2, 2) (y = 1) and (-2, -2) (y = 0)

then each point moves by noise * 5 * N(0, I) (5: the radius of the data), so noise 0.5 is heavy.

Features. The network sees phi(x), a choice among x1, x2, x1^2, x2^2, x1 x2, sin x1, sin x2, each standardised
with the mean and standard deviation of the training points, so that one learning rate suits every feature.

Network and loss. h_0 = phi(x),  h_l = act(W_l h_(l-1) + b_l) for each hidden layer,  z = w_out · h_L + b_out,
p = sigmoid(z) = P(y = 1 | x). Training minimises the mean binary cross-entropy plus an L2 penalty on the weights
(not the biases):

    L(theta) = 1/N sum_i [softplus(z_i) - y_i z_i]  +  lambda/2 sum_l ||W_l||^2

by mini-batch gradient descent, the lecture's one routine (dlf.fundamentals.gradient_descent), with gradients
from autograd. With no hidden layer the network is one neuron: logistic regression on the features.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from dlf.errors import ConfigError
from dlf.fundamentals import activations
from dlf.fundamentals.gradient_descent import gradient_descent
from dlf.fundamentals.losses import binary_cross_entropy

Tensor = torch.Tensor
D = torch.float64
RADIUS = 5.0
DATASETS = ("circle", "xor", "spirals", "gaussians")
MAX_LAYERS = 6
MAX_WIDTH = 16

FEATURES: dict[str, Callable[[Tensor], Tensor]] = {
    "x1": lambda x: x[:, 0],
    "x2": lambda x: x[:, 1],
    "x1^2": lambda x: x[:, 0] ** 2,
    "x2^2": lambda x: x[:, 1] ** 2,
    "x1*x2": lambda x: x[:, 0] * x[:, 1],
    "sin(x1)": lambda x: torch.sin(x[:, 0]),
    "sin(x2)": lambda x: torch.sin(x[:, 1]),
}


# data --------------------------------------------------------------------------------------------------------
def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, dtype=D)


def _circle(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    inner = n // 2
    r = torch.cat([_uniform(inner, 0.0, 0.5 * RADIUS, g), _uniform(n - inner, 0.7 * RADIUS, RADIUS, g)])  # (n,)
    angle = _uniform(n, 0.0, 2 * math.pi, g)
    x = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)  # (n, 2)
    return x, (torch.arange(n) < inner).to(D)


def _xor(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(2 * n, -RADIUS, RADIUS, g).reshape(n, 2)  # (n, 2)
    x = x + 0.3 * torch.sign(x)  # keep 0.3 away from the axes
    return x, (x[:, 0] * x[:, 1] >= 0).to(D)


def _spirals(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    half = n // 2
    t = torch.cat([torch.arange(half, dtype=D) / half, torch.arange(n - half, dtype=D) / (n - half)])  # (n,)
    y = (torch.arange(n) < half).to(D)  # class 1: the first spiral
    angle = 1.75 * 2 * math.pi * t + math.pi * (1 - y)
    r = RADIUS * t
    return torch.stack([r * torch.sin(angle), r * torch.cos(angle)], dim=1), y


def _gaussians(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    y = (torch.arange(n) < n // 2).to(D)
    centre = torch.where(y.bool(), 2.0, -2.0).unsqueeze(1).expand(n, 2)  # (n, 2)
    return centre + torch.randn(n, 2, generator=g, dtype=D), y


_MAKERS = {"circle": _circle, "xor": _xor, "spirals": _spirals, "gaussians": _gaussians}


def make_dataset(name: str, n: int, noise: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """n points of the data set `name`, moved by noise * RADIUS * N(0, I): x (n, 2) float64, y (n,) in {0, 1}."""
    if name not in _MAKERS:
        raise ConfigError(f"unknown data set '{name}'; choose one of {', '.join(DATASETS)}")
    if n < 4 or not 0 <= noise <= 1:
        raise ConfigError(f"a data set needs n >= 4 points and noise in [0, 1] (got n={n}, noise={noise})")
    x, y = _MAKERS[name](n, generator)
    x = x + noise * RADIUS * torch.randn(n, 2, generator=generator, dtype=D)
    order = torch.randperm(n, generator=generator)
    return x[order], y[order]


@dataclass(frozen=True)
class Split:
    """Training and test points of one data set."""

    x_train: Tensor  # (n_train, 2)
    y_train: Tensor  # (n_train,)
    x_test: Tensor  # (n_test, 2)
    y_test: Tensor  # (n_test,)


def split(x: Tensor, y: Tensor, train_fraction: float) -> Split:
    """The first round(train_fraction * n) points train (the data come shuffled), the rest test; both non-empty."""
    n = x.shape[0]
    k = min(max(round(train_fraction * n), 1), n - 1)
    return Split(x[:k], y[:k], x[k:], y[k:])


# features ----------------------------------------------------------------------------------------------------
class Features:
    """phi(x): the chosen features, standardised with the mean and std of the points given at construction."""

    def __init__(self, names: Sequence[str], x_train: Tensor):
        unknown = [n for n in names if n not in FEATURES]
        if unknown or not names:
            raise ConfigError(f"choose at least one input feature among {', '.join(FEATURES)} (got {list(names)})")
        self.names = tuple(dict.fromkeys(names))  # unique, in the given order
        raw = self._raw(x_train)  # (n, k)
        self.mean = raw.mean(0)  # (k,)
        self.std = raw.std(0).clamp_min(1e-8)  # (k,)

    def _raw(self, x: Tensor) -> Tensor:
        return torch.stack([FEATURES[n](x) for n in self.names], dim=1)  # (N, k)

    def __call__(self, x: Tensor) -> Tensor:
        return (self._raw(x) - self.mean) / self.std  # (N, k)


# network -----------------------------------------------------------------------------------------------------
def parse_hidden(text: str) -> tuple[int, ...]:
    """'4, 2' -> (4, 2): the widths of the hidden layers; '' or '0' means no hidden layer."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"hidden layers must be widths separated by commas, like 4, 2 (got {text!r})") from None
    widths = tuple(w for w in widths if w != 0)
    if len(widths) > MAX_LAYERS or any(not 1 <= w <= MAX_WIDTH for w in widths):
        raise ConfigError(f"use at most {MAX_LAYERS} hidden layers of 1 to {MAX_WIDTH} units each (got {text!r})")
    return widths


def init_params(sizes: Sequence[int], generator: torch.Generator) -> list[Tensor]:
    """[W_1, b_1, ..., W_out, b_out] for layer sizes (k, h_1, ..., h_L, 1): W ~ N(0, 1 / fan_in), b = 0."""
    params: list[Tensor] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(torch.randn(fan_out, fan_in, generator=generator, dtype=D) / math.sqrt(fan_in))  # (out, in)
        params.append(torch.zeros(fan_out, dtype=D))  # (out,)
    return params


def forward(params: Sequence[Tensor], phi: Tensor, activation: str) -> Tensor:
    """The logit z for each row of phi: (N, k) -> (N,)."""
    act = activations.get(activation)
    h = phi
    for i in range(0, len(params) - 2, 2):
        h = act(h @ params[i].T + params[i + 1])  # (N, h_l)
    return (h @ params[-2].T + params[-1]).squeeze(1)  # (N,)


def objective(params: Sequence[Tensor], phi: Tensor, y: Tensor, activation: str, l2: float) -> Tensor:
    """Mean binary cross-entropy plus l2 / 2 times the summed squares of the weight matrices."""
    penalty = sum((w * w).sum() for w in params[0::2])
    return binary_cross_entropy(forward(params, phi, activation), y) + 0.5 * l2 * penalty


class Playground:
    """A data split, its features and a network; `train(epochs, ...)` continues where the last call stopped."""

    def __init__(self, data: Split, features: Sequence[str], hidden: Sequence[int], activation: str, seed: int = 0):
        activations.get(activation)  # an unknown name fails here, not in the first step
        self.data, self.activation = data, activation
        self.phi = Features(features, data.x_train)
        self.phi_train, self.phi_test = self.phi(data.x_train), self.phi(data.x_test)  # (n_train, k), (n_test, k)
        gen = torch.Generator().manual_seed(seed)
        self.params = init_params((len(self.phi.names), *hidden, 1), gen)
        self.generator = torch.Generator().manual_seed(seed + 1)  # batch order
        self.steps = 0
        self.epochs = 0
        self.diverged = False

    def _grad(self, l2: float):
        def grad_fn(params: Sequence[Tensor], xb: Tensor, yb: Tensor) -> list[Tensor]:
            ps = [p.detach().requires_grad_() for p in params]
            return list(torch.autograd.grad(objective(ps, xb, yb, self.activation, l2), ps))

        return grad_fn

    def train(self, epochs: int, lr: float, l2: float, batch_size: int) -> None:
        """`epochs` passes of mini-batch gradient descent over the training points."""
        if l2 < 0:
            raise ConfigError(f"the L2 strength must be >= 0 (got {l2})")
        n = self.phi_train.shape[0]
        loss_fn = lambda ps, x, y: objective(ps, x, y, self.activation, l2)
        self.params, hist = gradient_descent(
            self._grad(l2), loss_fn, self.params, self.phi_train, self.data.y_train,
            batch_size=min(max(batch_size, 1), n), lr=lr, epochs=epochs, generator=self.generator, record_every=None,
        )
        self.steps += hist.steps
        self.epochs += epochs
        self.diverged = self.diverged or hist.diverged

    @torch.no_grad()
    def losses(self) -> tuple[float, float]:
        """Binary cross-entropy (without the penalty) on the training and the test points."""
        train = binary_cross_entropy(forward(self.params, self.phi_train, self.activation), self.data.y_train)
        test = binary_cross_entropy(forward(self.params, self.phi_test, self.activation), self.data.y_test)
        return float(train), float(test)

    @torch.no_grad()
    def accuracy(self) -> tuple[float, float]:
        """Fraction classified right (p > 1/2 means class 1) on the training and the test points."""
        def acc(phi: Tensor, y: Tensor) -> float:
            return float(((forward(self.params, phi, self.activation) > 0).to(D) == y).to(D).mean())

        return acc(self.phi_train, self.data.y_train), acc(self.phi_test, self.data.y_test)

    @torch.no_grad()
    def probability(self, x: Tensor) -> Tensor:
        """P(y = 1 | x) for raw points x (N, 2) -> (N,)."""
        return activations.sigmoid(forward(self.params, self.phi(x), self.activation))
