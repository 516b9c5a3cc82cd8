"""The playground: TensorFlow Playground's four classification and two regression data sets, a small network.

Data. n points x = (x1, x2) in about [-6, 6]^2, each with a label y in {0, 1} (classification):

    circle     y = 1 inside radius 2.5, y = 0 on the ring 3.5 < r < 5
    xor        y = 1 where x1 x2 >= 0 (points keep 0.3 away from the axes)
    spirals    two interleaved spirals r = 5 t, angle 1.75 * 2 pi t (+ pi for class 0), t in [0, 1)
    gaussians  two Gaussian blobs of spread 1 around (2, 2) (y = 1) and (-2, -2) (y = 0)

or a value y in [-1, 1] (regression):

    plane        y = (x1 + x2) / 10, clipped to [-1, 1]: a tilted plane
    multi-gauss  y = the sum of six Gaussian bumps of spread 1.5 (three up, three down), clipped to [-1, 1]

then each point moves by noise * 5 * N(0, I) (5: the radius of the data), so noise 0.5 is heavy.

Features. The network sees phi(x), a choice among x1, x2, x1^2, x2^2, x1 x2, sin x1, sin x2, each standardised
with the mean and standard deviation of the training points, so that one learning rate suits every feature.

Network and loss. h_0 = phi(x),  h_l = act(W_l h_(l-1) + b_l) for each hidden layer (act may be `linear`,
the identity),  z = w_out · h_L + b_out. For classification p = sigmoid(z) = P(y = 1 | x), and training minimises
the mean binary cross-entropy plus an L2 and an L1 penalty on the weights (not the biases):

    L(theta) = 1/N sum_i [softplus(z_i) - y_i z_i]  +  lambda2/2 sum_l ||W_l||^2  +  lambda1 sum_l |W_l|_1

For regression the output z itself is the prediction and the data term is the mean squared error
1/N sum_i (z_i - y_i)^2.

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
from dlf.fundamentals.losses import binary_cross_entropy, mse

Tensor = torch.Tensor
D = torch.float64
RADIUS = 5.0
CLASSIFICATION = ("circle", "xor", "spirals", "gaussians")
REGRESSION = ("plane", "multi-gauss")
DATASETS = CLASSIFICATION + REGRESSION
ACTIVATIONS = (*activations.NAMES, "linear")
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


def _plane(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(2 * n, -RADIUS, RADIUS, g).reshape(n, 2)  # (n, 2)
    return x, ((x[:, 0] + x[:, 1]) / (2 * RADIUS)).clamp(-1, 1)


# (centre x1, centre x2, sign) of the six bumps of multi-gauss, as in TensorFlow Playground
BUMPS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def _multi_gauss(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    x = _uniform(2 * n, -RADIUS, RADIUS, g).reshape(n, 2)  # (n, 2)
    return x, regression_label("multi-gauss", x)


def regression_label(name: str, x: Tensor) -> Tensor:
    """The noise-free value of a regression data set at the points x: (N, 2) -> (N,) in [-1, 1]."""
    if name == "plane":
        return ((x[:, 0] + x[:, 1]) / (2 * RADIUS)).clamp(-1, 1)
    y = torch.zeros(x.shape[0], dtype=x.dtype)
    for cx, cy, sign in BUMPS:
        y += sign * torch.exp(-((x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2) / (2 * 1.5**2))
    return y.clamp(-1, 1)


_MAKERS = {"circle": _circle, "xor": _xor, "spirals": _spirals, "gaussians": _gaussians, "plane": _plane,
           "multi-gauss": _multi_gauss}


def make_dataset(name: str, n: int, noise: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """n points of the data set `name`, moved by noise * RADIUS * N(0, I): x (n, 2) float64, y (n,).

    y is in {0, 1} for a classification data set and in [-1, 1] for a regression one (its value before the move).
    """
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


def activation_fn(name: str) -> Callable[[Tensor], Tensor]:
    """dlf's activation called `name`, or the identity for 'linear'."""
    if name == "linear":
        return lambda z: z
    if name not in activations.NAMES:
        raise ConfigError(f"unknown activation '{name}'; choose one of {', '.join(ACTIVATIONS)}")
    return activations.get(name)


def layers(params: Sequence[Tensor], phi: Tensor, activation: str) -> list[Tensor]:
    """Every layer's output for each row of phi: [phi (N, k), h_1 (N, h_1), ..., h_L, z (N, 1)]."""
    act = activation_fn(activation)
    outs = [phi]
    for i in range(0, len(params) - 2, 2):
        outs.append(act(outs[-1] @ params[i].T + params[i + 1]))  # (N, h_l)
    outs.append(outs[-1] @ params[-2].T + params[-1])  # (N, 1)
    return outs


def forward(params: Sequence[Tensor], phi: Tensor, activation: str) -> Tensor:
    """The output z for each row of phi (a logit, or the predicted value in regression): (N, k) -> (N,)."""
    return layers(params, phi, activation)[-1].squeeze(1)


def data_loss(z: Tensor, y: Tensor, regression: bool) -> Tensor:
    """Mean squared error (regression) or mean binary cross-entropy of the logits (classification)."""
    return mse(z, y) if regression else binary_cross_entropy(z, y)


def score(z: Tensor, y: Tensor, regression: bool) -> tuple[float, float]:
    """The data loss of outputs z against y, and the fraction classified right (z > 0 means class 1; NaN in
    regression)."""
    acc = math.nan if regression else float(((z > 0).to(D) == y).to(D).mean())
    return float(data_loss(z, y, regression)), acc


def objective(params: Sequence[Tensor], phi: Tensor, y: Tensor, activation: str, l2: float, l1: float = 0.0,
              regression: bool = False) -> Tensor:
    """The data loss plus l2 / 2 times the summed squares and l1 times the summed |.| of the weight matrices."""
    loss = data_loss(forward(params, phi, activation), y, regression)
    if l2:
        loss = loss + 0.5 * l2 * sum((w * w).sum() for w in params[0::2])
    if l1:
        loss = loss + l1 * sum(w.abs().sum() for w in params[0::2])
    return loss


class Playground:
    """A data split, its features and a network; `train(epochs, ...)` and `step(...)` go on from where they stopped.

    regression=True fits the value y with the mean squared error instead of classifying.
    """

    def __init__(self, data: Split, features: Sequence[str], hidden: Sequence[int], activation: str, seed: int = 0,
                 regression: bool = False):
        activation_fn(activation)  # an unknown name fails here, not in the first step
        self.data, self.activation, self.regression = data, activation, regression
        self.phi = Features(features, data.x_train)
        self.phi_train, self.phi_test = self.phi(data.x_train), self.phi(data.x_test)  # (n_train, k), (n_test, k)
        gen = torch.Generator().manual_seed(seed)
        self.params = init_params((len(self.phi.names), *hidden, 1), gen)
        self.generator = torch.Generator().manual_seed(seed + 1)  # batch order
        self.steps = 0
        self.epochs = 0
        self.diverged = False

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths (k features, h_1, ..., h_L, 1)."""
        return (self.params[0].shape[1], *(w.shape[0] for w in self.params[0::2]))

    def _loss_fn(self, l2: float, l1: float):
        return lambda ps, x, y: objective(ps, x, y, self.activation, l2, l1, self.regression)

    def _grad(self, l2: float, l1: float = 0.0):
        loss_fn = self._loss_fn(l2, l1)

        def grad_fn(params: Sequence[Tensor], xb: Tensor, yb: Tensor) -> list[Tensor]:
            ps = [p.detach().requires_grad_() for p in params]
            return list(torch.autograd.grad(loss_fn(ps, xb, yb), ps))

        return grad_fn

    @staticmethod
    def _check(l2: float, l1: float) -> None:
        if l2 < 0 or l1 < 0:
            raise ConfigError(f"the regularisation strengths must be >= 0 (got L2 {l2}, L1 {l1})")

    def train(self, epochs: int, lr: float, l2: float, batch_size: int, l1: float = 0.0) -> None:
        """`epochs` passes of mini-batch gradient descent over the training points."""
        self._check(l2, l1)
        n = self.phi_train.shape[0]
        self.params, hist = gradient_descent(
            self._grad(l2, l1), self._loss_fn(l2, l1), self.params, self.phi_train, self.data.y_train,
            batch_size=min(max(batch_size, 1), n), lr=lr, epochs=epochs, generator=self.generator, record_every=None,
        )
        self.steps += hist.steps
        self.epochs += epochs
        self.diverged = self.diverged or hist.diverged

    def step(self, lr: float, l2: float, batch_size: int, l1: float = 0.0) -> None:
        """One gradient step on `batch_size` training points drawn at random (TensorFlow Playground's Step)."""
        self._check(l2, l1)
        n = self.phi_train.shape[0]
        idx = torch.randperm(n, generator=self.generator)[: min(max(batch_size, 1), n)]
        grads = self._grad(l2, l1)(self.params, self.phi_train[idx], self.data.y_train[idx])
        self.params = [p - lr * g for p, g in zip(self.params, grads)]
        self.steps += 1
        self.diverged = self.diverged or not all(bool(torch.isfinite(p).all()) for p in self.params)

    def set_weight(self, layer: int, to: int, frm: int, value: float) -> None:
        """Set the weight from unit `frm` of layer `layer - 1` to unit `to` of layer `layer` (1 = first hidden)."""
        if not 1 <= layer <= len(self.params) // 2:
            raise ConfigError(f"layer {layer} does not exist; the network has {len(self.params) // 2} weight layers")
        w = self.params[2 * (layer - 1)]  # (out, in)
        if not (0 <= to < w.shape[0] and 0 <= frm < w.shape[1]):
            raise ConfigError(f"layer {layer} has weights from {w.shape[1]} to {w.shape[0]} units (got {frm} -> {to})")
        if not math.isfinite(value) or abs(value) > 100:
            raise ConfigError(f"a weight must be a number between -100 and 100 (got {value})")
        w = w.clone()
        w[to, frm] = value
        self.params[2 * (layer - 1)] = w

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float, float, float]:
        """Data loss (without the penalties) and accuracy on the training and the test points: (train loss, test
        loss, train accuracy, test accuracy). Accuracy is the fraction classified right (p > 1/2 means class 1),
        NaN in regression."""
        (train, train_acc), (test, test_acc) = (score(forward(self.params, phi, self.activation), y, self.regression)
                                                for phi, y in ((self.phi_train, self.data.y_train),
                                                               (self.phi_test, self.data.y_test)))
        return train, test, train_acc, test_acc

    def losses(self) -> tuple[float, float]:
        """The data loss (without the penalties) on the training and the test points."""
        return self.evaluate()[:2]

    def accuracy(self) -> tuple[float, float]:
        """Fraction classified right (p > 1/2 means class 1) on the training and the test points (NaN in regression)."""
        return self.evaluate()[2:]

    @torch.no_grad()
    def probability(self, x: Tensor) -> Tensor:
        """P(y = 1 | x) for raw points x (N, 2) -> (N,); in regression, the predicted value."""
        z = forward(self.params, self.phi(x), self.activation)
        return z if self.regression else activations.sigmoid(z)

    @torch.no_grad()
    def neuron_outputs(self, x: Tensor) -> list[Tensor]:
        """What every unit computes at raw points x (N, 2): [features (N, k), h_1 (N, h_1), ..., output (N, 1)].

        The output is P(y = 1 | x) in classification and the predicted value in regression.
        """
        outs = layers(self.params, self.phi(x), self.activation)
        if not self.regression:
            outs[-1] = activations.sigmoid(outs[-1])
        return outs
