"""Backpropagation for whole batches: every layer's backward rule written out in numpy.

dlf.fundamentals.autograd follows the gradient through one scalar at a time. Real frameworks do the same for
whole arrays at once; the chain rule is unchanged, only each local rule now maps arrays to arrays. For a batch
X (B, n) through a linear layer Y = X W + b with W (n, m) and b (m,), given G = dL/dY (B, m):

    dL/dX = G W^T      (B, m) @ (m, n)   each input feeds every output through W
    dL/dW = X^T G      (n, B) @ (B, m)   summed over the batch: W is used by every example
    dL/db = sum_B G    (m,)              b was broadcast over the batch, so its gradient sums over it

An elementwise activation h = f(z) passes G through times its derivative, dL/dz = G * f'(z). Softmax followed
by cross-entropy, L = -1/B sum_i log softmax(z_i)[y_i], has the famously simple gradient
dL/dz = (softmax(z) - onehot(y)) / B. Each layer keeps what its forward pass saw, because its backward rule
needs it (X for dL/dW, z for f'(z)), exactly as autograd saves tensors for backward.

    net = MLP((784, 128, 10), rng=np.random.default_rng(0))
    loss = net.loss(x, y)          # forward; then
    grads = net.backward()         # dL/dparam for each of net.params(), same order
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The gradient of an array that numpy broadcast to grad.shape: sum over every axis it was repeated along."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


class Linear:
    """Y = X W + b; W (n_in, n_out), b (n_out,), initialised as PyTorch's nn.Linear: U(-1/sqrt(n_in), 1/sqrt(n_in))."""

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, dtype=np.float64):
        bound = 1.0 / np.sqrt(n_in)
        self.w = rng.uniform(-bound, bound, size=(n_in, n_out)).astype(dtype)
        self.b = rng.uniform(-bound, bound, size=n_out).astype(dtype)
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x  # (B, n_in), kept for dL/dW
        return x @ self.w + self.b  # (B, n_out): a matmul, then b broadcast over the batch

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """g = dL/dY (B, n_out) -> dL/dX (B, n_in) and [dL/dW, dL/db]."""
        dw = self.x.T @ g  # (n_in, B) @ (B, n_out)
        db = unbroadcast(g, self.b.shape)  # (n_out,)
        return g @ self.w.T, [dw, db]

    def params(self) -> list[np.ndarray]:
        return [self.w, self.b]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


# name -> (f(z), f'(z) from z and f(z))
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (lambda z: np.maximum(z, 0), lambda z, h: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z, h: 1 - h * h),
    "sigmoid": (_sigmoid, lambda z, h: h * (1 - h)),
}


class Activation:
    """h = f(z) elementwise; backward: dL/dz = dL/dh * f'(z)."""

    def __init__(self, name: str):
        self.name = name
        self.f, self.df = ACTIVATIONS[name]
        self.z: np.ndarray | None = None
        self.h: np.ndarray | None = None

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.z, self.h = z, self.f(z)
        return self.h

    def backward(self, g: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        return g * self.df(self.z, self.h), []

    def params(self) -> list[np.ndarray]:
        return []


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, shifted by the row maximum so that exp never overflows."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits z (B, C) against labels y (B,), and its gradient dL/dz = (p - onehot(y)) / B."""
    b = len(y)
    logp = log_softmax(z)  # (B, C)
    loss = -logp[np.arange(b), y].mean()
    g = np.exp(logp)  # softmax p (B, C)
    g[np.arange(b), y] -= 1.0
    return float(loss), g / b


class MLP:
    """Linear, activation, linear, ..., linear; the loss is softmax cross-entropy on the last layer's logits."""

    def __init__(self, sizes: Sequence[int], act: str = "relu", rng: np.random.Generator | None = None,
                 dtype=np.float64):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.layers: list[Linear | Activation] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.layers.append(Linear(n_in, n_out, rng, dtype))
            if i < len(sizes) - 2:
                self.layers.append(Activation(act))
        self._g: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x  # (B, C) logits

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Forward pass and loss; remembers dL/dlogits for backward()."""
        value, self._g = softmax_cross_entropy(self.forward(x), y)
        return value

    def backward(self) -> list[np.ndarray]:
        """dL/dp for every p in params(), in the same order: the layers' rules applied from the last to the first."""
        g, grads = self._g, []
        for layer in reversed(self.layers):
            g, layer_grads = layer.backward(g)
            grads = layer_grads + grads
        return grads

    def params(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer.params()]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x).argmax(axis=-1)


class SGD:
    """Gradient descent with momentum: v <- mu v + g, p <- p - lr v (PyTorch's SGD rule), in place."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float = 0.0):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.velocity = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        for p, v, g in zip(self.params, self.velocity, grads):
            v *= self.momentum
            v += g
            p -= self.lr * v


def train(net: MLP, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, lr: float, momentum: float = 0.0,
          rng: np.random.Generator) -> list[float]:
    """Mini-batch SGD over shuffled data; returns the loss of every step."""
    opt = SGD(net.params(), lr, momentum)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            losses.append(net.loss(x[idx], y[idx]))
            opt.step(net.backward())
    return losses


def accuracy(net: MLP, x: np.ndarray, y: np.ndarray, batch: int = 10_000) -> float:
    hits = sum(int((net.predict(x[i : i + batch]) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return hits / len(x)
