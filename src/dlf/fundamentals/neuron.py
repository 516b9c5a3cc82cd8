"""A single artificial neuron: a weighted sum of the inputs plus a bias, passed through an activation.

    z = w · x + b = w_1 x_1 + ... + w_d x_d + b
    output = act(z)                  the neuron "fires" when output > act(0), i.e. when z > 0

A sigmoid neuron is logistic regression. Trained with binary cross-entropy L = mean(softplus(z) - y z), its
gradients are short enough to write by hand (p = sigmoid(z)):

    dL/dw = mean_i (p_i - y_i) x_i        dL/db = mean_i (p_i - y_i)

and gradient descent repeats w <- w - lr dL/dw, b <- b - lr dL/db. Its decision boundary w · x + b = 0 is a
straight line in 2-D, so one neuron separates exactly the data sets that a line can separate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from dlf.errors import DataError
from dlf.fundamentals import activations
from dlf.fundamentals.losses import binary_cross_entropy

Tensor = torch.Tensor


@dataclass
class Neuron:
    """One neuron with weights w (d,), bias b and an activation looked up by name."""

    w: Tensor
    b: float = 0.0
    activation: str = "sigmoid"

    def __post_init__(self) -> None:
        self.w = torch.as_tensor(self.w, dtype=torch.float64).reshape(-1)
        self.b = float(self.b)
        self.act = activations.get(self.activation)

    def z(self, x: Tensor) -> Tensor:
        """The weighted sum w · x + b; x (d,) gives a 0-d tensor, x (N, d) gives (N,)."""
        x = torch.as_tensor(x, dtype=self.w.dtype)
        if x.shape[-1] != self.w.numel():
            raise DataError(f"the neuron has {self.w.numel()} weights but the input has {x.shape[-1]} features")
        return x @ self.w + self.b

    def output(self, x: Tensor) -> Tensor:
        return self.act(self.z(x))

    __call__ = output

    def fires(self, x: Tensor) -> Tensor:
        """True where the output exceeds the activation's threshold (its value at z = 0)."""
        return self.output(x) > self.act.threshold

    def formula(self, x: Tensor | None = None) -> str:
        """The neuron as a formula with its current numbers; with an input x, also the value it gives."""
        ws = self.w.tolist()
        terms = [f"{ws[0]:.3g}·x1"] if ws else []
        terms += [f"{'-' if wi < 0 else '+'} {abs(wi):.3g}·x{i}" for i, wi in enumerate(ws[1:], start=2)]
        terms.append(f"{'-' if self.b < 0 else '+'} {abs(self.b):.3g}" if ws else f"{self.b:.3g}")
        text = f"output = {self.activation}({' '.join(terms)})"
        if x is None:
            return text
        x = torch.as_tensor(x, dtype=self.w.dtype).reshape(-1)
        z = float(self.z(x))
        out = float(self.output(x))
        state = "fires" if out > self.act.threshold else "does not fire"
        xs = ", ".join(f"{v:.3g}" for v in x.tolist())
        return f"{text}; at x = ({xs}): z = {z:.4g}, {self.activation}(z) = {out:.4g} ({state})"


def bce_gradients(w: Tensor, b: float, x: Tensor, y: Tensor) -> tuple[Tensor, float]:
    """Hand gradients of mean binary cross-entropy of sigmoid(x w + b): (mean((p - y) x), mean(p - y))."""
    p = activations.sigmoid(x @ w + b)  # (N,)
    r = p - y  # (N,)
    return (r.unsqueeze(1) * x).mean(dim=0), float(r.mean())  # (d,), scalar


@dataclass
class NeuronTrace:
    """What `train_neuron` recorded: the loss before each step and after the last one."""

    loss: list[float] = field(default_factory=list)


def train_neuron(
    x: Tensor, y: Tensor, lr: float = 0.5, steps: int = 300, w0: Tensor | None = None, b0: float = 0.0
) -> tuple[Neuron, NeuronTrace]:
    """Full-batch gradient descent on a sigmoid neuron with binary cross-entropy; x (N, d), y (N,) in {0, 1}."""
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    if x.dim() != 2 or y.shape != x.shape[:1]:
        raise DataError(f"train_neuron wants x (N, d) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    w = torch.zeros(x.shape[1], dtype=torch.float64) if w0 is None else torch.as_tensor(w0, dtype=torch.float64)
    b = float(b0)
    trace = NeuronTrace()
    for _ in range(steps):
        trace.loss.append(float(binary_cross_entropy(x @ w + b, y)))
        dw, db = bce_gradients(w, b, x, y)
        w = w - lr * dw  # w <- w - lr dL/dw
        b = b - lr * db  # b <- b - lr dL/db
    trace.loss.append(float(binary_cross_entropy(x @ w + b, y)))
    return Neuron(w, b, "sigmoid"), trace


def make_blobs(
    n: int, generator: torch.Generator, distance: float = 3.0, std: float = 0.7, margin: float = 0.5
) -> tuple[Tensor, Tensor]:
    """Two Gaussian blobs, n points in all, that a line separates with a gap of at least `margin`.

    The centres lie `distance` apart along a random direction u around a random offset. Points of class 1 need
    u · (x - c) >= margin / 2 and points of class 0 need <= -margin / 2 (c: the midpoint); others are redrawn.
    Returns x (n, 2) float64 and y (n,) float64 in {0, 1}.
    """
    if distance <= margin:
        raise DataError(f"blob distance {distance} must exceed the margin {margin}, or the classes would overlap")
    angle = float(torch.rand((), generator=generator, dtype=torch.float64)) * 2 * math.pi
    u = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)  # (2,)
    mid = torch.rand(2, generator=generator, dtype=torch.float64) * 2 - 1  # (2,)
    n1 = n // 2
    parts = []
    for label, count in ((0, n - n1), (1, n1)):
        sign = 1.0 if label else -1.0
        centre = mid + sign * distance / 2 * u
        kept = torch.empty(0, 2, dtype=torch.float64)
        while kept.shape[0] < count:  # acceptance > 1/2 because distance > margin
            pts = centre + std * torch.randn(2 * count, 2, generator=generator, dtype=torch.float64)
            ok = sign * ((pts - mid) @ u) >= margin / 2
            kept = torch.cat([kept, pts[ok]])
        parts.append((kept[:count], torch.full((count,), float(label), dtype=torch.float64)))
    x = torch.cat([parts[0][0], parts[1][0]])  # (n, 2)
    y = torch.cat([parts[0][1], parts[1][1]])  # (n,)
    order = torch.randperm(n, generator=generator)
    return x[order], y[order]
