"""Linear regression: fit y = X w + b by minimising the mean squared error L = 1/N ||X w + b - y||^2.

Closed form. Centre the data (x_bar, y_bar: the column means); the least-squares solution solves the normal
equations

    (X_c^T X_c) w = X_c^T y_c,    X_c = X - x_bar,  y_c = y - y_bar,    b = y_bar - x_bar · w

Gradient descent. With the prediction p = X w + b and r = p - y, the chain rule through dL/dp = 2 r / N gives

    dL/dw = X^T (2 r / N) = 2/N X^T r        dL/db = sum(2 r / N) = 2/N sum(r)

and full-batch descent converges for any learning rate below 2 / lambda_max, where lambda_max is the largest
eigenvalue of the Hessian H = 2/N [X 1]^T [X 1] (see `stable_lr`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dlf.errors import DataError
from dlf.fundamentals.gradient_descent import History, gradient_descent
from dlf.fundamentals.losses import mse, mse_grad

Tensor = torch.Tensor


# data --------------------------------------------------------------------------------------------------------
def make_line(
    n: int, generator: torch.Generator, w: float = 2.0, b: float = 1.0, noise: float = 1.0,
    x_range: tuple[float, float] = (0.0, 4.0),
) -> tuple[Tensor, Tensor]:
    """y = w x + b + noise * N(0, 1) with x uniform on x_range; returns X (n, 1) and y (n,), float64."""
    lo, hi = x_range
    x = lo + (hi - lo) * torch.rand(n, 1, generator=generator, dtype=torch.float64)  # (n, 1)
    y = w * x[:, 0] + b + noise * torch.randn(n, generator=generator, dtype=torch.float64)  # (n,)
    return x, y


def make_multivariate(
    n: int, features: int, generator: torch.Generator, noise: float = 0.5, b: float = 0.5,
    dtype: torch.dtype = torch.float64, w: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """y = X w + b + noise * N(0, 1) with X ~ N(0, I); returns X (n, d), y (n,) and w.

    The true weights w are drawn from N(0, 1) unless given (give them to draw a test set of the same problem).
    """
    if w is None:
        w = torch.randn(features, generator=generator, dtype=dtype)  # (d,)
    x = torch.randn(n, features, generator=generator, dtype=dtype)  # (n, d)
    y = x @ w + b + noise * torch.randn(n, generator=generator, dtype=dtype)  # (n,)
    return x, y, w


# closed form -------------------------------------------------------------------------------------------------
def _check(x: Tensor, y: Tensor) -> None:
    if x.dim() != 2 or y.shape != x.shape[:1]:
        raise DataError(f"linear regression wants X (N, d) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2:
        raise DataError(f"linear regression needs at least 2 examples, got {x.shape[0]}")


def closed_form(x: Tensor, y: Tensor, chunk_rows: int = 1_000_000) -> tuple[Tensor, float]:
    """Least squares through the centred normal equations, accumulated in float64 over chunks of rows.

    Two passes over X: the means, then X_c^T X_c and X_c^T y_c, chunk by chunk, so that no centred copy of a
    large X is made. Returns w (d,) float64 and b.
    """
    _check(x, y)
    n, d = x.shape
    x_bar = torch.zeros(d, dtype=torch.float64)
    y_bar = torch.zeros((), dtype=torch.float64)
    for i in range(0, n, chunk_rows):
        x_bar += x[i : i + chunk_rows].to(torch.float64).sum(0)
        y_bar += y[i : i + chunk_rows].to(torch.float64).sum()
    x_bar, y_bar = x_bar / n, y_bar / n
    gram = torch.zeros(d, d, dtype=torch.float64)  # X_c^T X_c
    xty = torch.zeros(d, dtype=torch.float64)  # X_c^T y_c
    for i in range(0, n, chunk_rows):
        xc = x[i : i + chunk_rows].to(torch.float64) - x_bar  # (chunk, d)
        gram += xc.T @ xc
        xty += xc.T @ (y[i : i + chunk_rows].to(torch.float64) - y_bar)
    chol, info = torch.linalg.cholesky_ex(gram)
    if int(info) != 0:
        raise DataError("the features are linearly dependent (X^T X is singular); drop a duplicated feature")
    w = torch.cholesky_solve(xty.unsqueeze(1), chol).squeeze(1)  # (d,)
    return w, float(y_bar - x_bar @ w)


def stable_lr(x: Tensor) -> float:
    """2 / lambda_max of the MSE Hessian 2/N [X 1]^T [X 1]: full-batch descent diverges at or above it."""
    a = torch.cat([x.to(torch.float64), torch.ones(x.shape[0], 1, dtype=torch.float64)], dim=1)  # (N, d + 1)
    lam = torch.linalg.eigvalsh(2 * a.T @ a / x.shape[0]).max()
    return float(2 / lam)


# gradient descent --------------------------------------------------------------------------------------------
def predict(params: Sequence[Tensor], x: Tensor) -> Tensor:
    w, b = params
    return x @ w + b  # (N,)


def loss(params: Sequence[Tensor], x: Tensor, y: Tensor) -> Tensor:
    return mse(predict(params, x), y)


def grad(params: Sequence[Tensor], x: Tensor, y: Tensor) -> list[Tensor]:
    """[dL/dw, dL/db] by the chain rule through dL/dp = mse_grad(p, y)."""
    g = mse_grad(predict(params, x), y)  # (B,)
    return [x.T @ g, g.sum()]


def fit_gd(
    x: Tensor, y: Tensor, *, lr: float, epochs: int, generator: torch.Generator, batch_size: int | None = None,
    tol: float | None = None, record_every: int | None = 1, **kwargs,
) -> tuple[Tensor, float, History]:
    """Fit w, b by gradient descent from zero; batch_size None means full batch. Returns w (d,), b, history."""
    _check(x, y)
    params = [torch.zeros(x.shape[1], dtype=x.dtype), torch.zeros((), dtype=x.dtype)]
    (w, b), hist = gradient_descent(
        grad, loss, params, x, y, batch_size=batch_size or x.shape[0], lr=lr, epochs=epochs,
        generator=generator, record_every=record_every, tol=tol, **kwargs,
    )
    return w, float(b), hist


def rel_diff(w: Tensor, b: float, w_ref: Tensor, b_ref: float) -> float:
    """||theta - theta_ref|| / ||theta_ref|| with theta = [w, b]."""
    theta = torch.cat([w.to(torch.float64).reshape(-1), torch.tensor([b], dtype=torch.float64)])
    ref = torch.cat([w_ref.to(torch.float64).reshape(-1), torch.tensor([b_ref], dtype=torch.float64)])
    return float((theta - ref).norm() / ref.norm())
