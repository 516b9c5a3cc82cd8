"""Loss functions, written out with their gradients, numerically stable for any logit.

Mean squared error (regression), over all N elements of the prediction p:

    L = 1/N sum_i (p_i - y_i)^2                      dL/dp_i = 2 (p_i - y_i) / N

Binary cross-entropy from a logit z (p = sigmoid(z), labels y in {0, 1}, or any value in [0, 1]):

    L = -1/N sum_i [ y_i log p_i + (1 - y_i) log(1 - p_i) ]
      =  1/N sum_i [ softplus(z_i) - y_i z_i ]        dL/dz_i = (sigmoid(z_i) - y_i) / N

with softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|), which never exponentiates a positive number.

Multi-class cross-entropy from logits z (N, C) and integer labels c_i (softmax p = e^z / sum_k e^z_k):

    L = -1/N sum_i log p_{i, c_i} = 1/N sum_i [ logsumexp(z_i) - z_{i, c_i} ]
    dL/dz_{ik} = (softmax(z_i)_k - [k == c_i]) / N

with logsumexp(z) = m + log sum_k e^(z_k - m), m = max_k z_k, so every exponent is <= 0.
All losses use mean reduction; every `*_grad` is the gradient of that mean with respect to its first argument.
"""

from __future__ import annotations

import torch

from dlf.errors import DataError
from dlf.fundamentals.activations import sigmoid

Tensor = torch.Tensor


def _check_same_shape(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise DataError(f"{what}: prediction shape {tuple(a.shape)} differs from target shape {tuple(b.shape)}")


# regression --------------------------------------------------------------------------------------------------
def mse(pred: Tensor, y: Tensor) -> Tensor:
    """Mean squared error 1/N sum (p - y)^2 (a 0-d tensor)."""
    _check_same_shape(pred, y, "mse")
    return ((pred - y) ** 2).mean()


def mse_grad(pred: Tensor, y: Tensor) -> Tensor:
    """dL/dp = 2 (p - y) / N, the shape of `pred`."""
    _check_same_shape(pred, y, "mse_grad")
    return (pred - y).mul_(2 / pred.numel())  # the subtraction is a fresh tensor, scaled in place


# binary classification ---------------------------------------------------------------------------------------
def softplus(z: Tensor) -> Tensor:
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|), finite for any z."""
    # max(z, 0) and -|z| written with one branch test, so that autograd's derivative at z = 0 is also the true
    # one (1 - 1/2); clamp and abs would each pick a subgradient there and give 1.
    pos = z >= 0
    return torch.where(pos, z, torch.zeros_like(z)) + torch.log1p(torch.exp(torch.where(pos, -z, z)))


def binary_cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean binary cross-entropy of sigmoid(logits) against y: 1/N sum softplus(z) - y z."""
    _check_same_shape(logits, y, "binary_cross_entropy")
    return (softplus(logits) - y * logits).mean()


def binary_cross_entropy_grad(logits: Tensor, y: Tensor) -> Tensor:
    """dL/dz = (sigmoid(z) - y) / N, the shape of `logits`."""
    _check_same_shape(logits, y, "binary_cross_entropy_grad")
    return (sigmoid(logits) - y) / logits.numel()


# multi-class classification ----------------------------------------------------------------------------------
def logsumexp(z: Tensor) -> Tensor:
    """log sum_k e^z_k over the last axis, shifted by the maximum so that no exponent is positive."""
    m = z.max(dim=-1, keepdim=True).values  # (N, 1)
    return (m + torch.log(torch.exp(z - m).sum(dim=-1, keepdim=True))).squeeze(-1)  # (N,)


def log_softmax(z: Tensor) -> Tensor:
    return z - logsumexp(z).unsqueeze(-1)


def softmax(z: Tensor) -> Tensor:
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def _check_labels(logits: Tensor, labels: Tensor) -> None:
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise DataError(
            f"cross_entropy wants logits (N, C) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise DataError(f"cross_entropy wants integer class labels, got dtype {labels.dtype}; use labels.long()")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]):
        raise DataError(f"cross_entropy labels must lie in [0, {logits.shape[1] - 1}] for {logits.shape[1]} classes")


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean of logsumexp(z_i) - z_{i, c_i} over the N rows; logits (N, C), labels (N,) integers."""
    _check_labels(logits, labels)
    picked = logits.gather(1, labels.long().unsqueeze(1)).squeeze(1)  # (N,)
    return (logsumexp(logits) - picked).mean()


def cross_entropy_grad(logits: Tensor, labels: Tensor) -> Tensor:
    """dL/dz = (softmax(z) - onehot(c)) / N, shape (N, C)."""
    _check_labels(logits, labels)
    onehot = torch.zeros_like(logits).scatter_(1, labels.long().unsqueeze(1), 1.0)  # (N, C)
    return (softmax(logits) - onehot) / logits.shape[0]
