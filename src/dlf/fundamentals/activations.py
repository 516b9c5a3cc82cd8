"""Activations: the function that decides whether a neuron "fires".

    sigmoid(z) = 1 / (1 + e^-z)          sigmoid'(z) = sigmoid(z) (1 - sigmoid(z))
    tanh(z)    = (e^z - e^-z)/(e^z + e^-z)  tanh'(z) = 1 - tanh(z)^2
    relu(z)    = max(0, z)               relu'(z)    = 1 if z > 0 else 0   (0 at z = 0, as PyTorch uses)

Each is written out with its derivative, so gradients can be computed by hand and checked against autograd.
Look them up by name with `get("tanh")`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dlf.errors import ConfigError

Tensor = torch.Tensor


def sigmoid(z: Tensor) -> Tensor:
    # exp of a negative number only, so no overflow for large |z|
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, torch.ones_like(e), e) / (1 + e)


def sigmoid_grad(z: Tensor) -> Tensor:
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z: Tensor) -> Tensor:
    # tanh(z) = 2 sigmoid(2z) - 1, stable for any z
    return 2 * sigmoid(2 * z) - 1


def tanh_grad(z: Tensor) -> Tensor:
    return 1 - tanh(z) ** 2


def relu(z: Tensor) -> Tensor:
    return torch.clamp(z, min=0)


def relu_grad(z: Tensor) -> Tensor:
    return (z > 0).to(z.dtype)


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable[[Tensor], Tensor]
    grad: Callable[[Tensor], Tensor]
    threshold: float
    """Output above which the neuron counts as firing (the output at z = 0)."""
    formula: str

    def __call__(self, z: Tensor) -> Tensor:
        return self.fn(z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_grad, 0.5, "1 / (1 + exp(-z))"),
    "tanh": Activation("tanh", tanh, tanh_grad, 0.0, "(exp(z) - exp(-z)) / (exp(z) + exp(-z))"),
    "relu": Activation("relu", relu, relu_grad, 0.0, "max(0, z)"),
}

NAMES = tuple(ACTIVATIONS)


def get(name: str) -> Activation:
    """The activation called `name`; an unknown name is a one-line error listing the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(f"unknown activation '{name}'; choose one of {', '.join(NAMES)}") from None
