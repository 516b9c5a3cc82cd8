"""Benchmark: dlf's linear regression against scikit-learn's, on the same data, side by side.

    .venv/bin/python benchmarks/bench_linreg.py                  # 10,000,000 rows x 10 features (800 MB, minutes)
    .venv/bin/python benchmarks/bench_linreg.py --rows 200000    # a quick look

The data are y = X w + b + 0.5 N(0, 1) with X ~ N(0, I), float64. "Exact" is least squares by QR
(torch.linalg.lstsq on [X 1], not timed). Each method is timed once, end to end, on the same 2-D array
(numpy shares torch's memory, no copy). Needs scikit-learn (pip install -e ".[bench]"). Not a test.
Mini-batch descent makes thousands of tiny steps; on a busy machine each multi-threaded tiny op waits for a
descheduled thread, so compare with --threads 1 there.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch

from dlf.fundamentals import linreg


def make_data(rows: int, test_rows: int, features: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Training and test sets of one problem: X (rows, d), y (rows,), X_test, y_test."""
    gen = torch.Generator().manual_seed(seed)
    x, y, w = linreg.make_multivariate(rows, features, gen, noise=0.5)
    x_test, y_test, _ = linreg.make_multivariate(test_rows, features, gen, noise=0.5, w=w)
    return x, y, x_test, y_test


def exact(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
    a = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)  # (rows, d + 1)
    theta = torch.linalg.lstsq(a, y.unsqueeze(1), driver="gels").solution.squeeze(1)  # (d + 1,)
    return theta[:-1], float(theta[-1])


def methods(args: argparse.Namespace) -> dict[str, Callable]:
    """Name -> fit(x, y) returning (w, b)."""
    from sklearn.linear_model import LinearRegression, SGDRegressor

    def sk_linear(x, y):
        m = LinearRegression().fit(x.numpy(), y.numpy())
        return torch.from_numpy(m.coef_), float(m.intercept_)

    def sk_sgd(x, y):
        m = SGDRegressor(penalty=None, random_state=args.seed).fit(x.numpy(), y.numpy())
        return torch.from_numpy(m.coef_), float(m.intercept_[0])

    def dlf_closed(x, y):
        return linreg.closed_form(x, y)

    def dlf_full(x, y):
        w, b, _ = linreg.fit_gd(x, y, lr=args.full_lr, epochs=args.max_steps, tol=args.tol, record_every=None,
                                generator=torch.Generator().manual_seed(args.seed))
        return w, b

    def dlf_mini(x, y):
        w, b, _ = linreg.fit_gd(x, y, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                                record_every=None, generator=torch.Generator().manual_seed(args.seed))
        return w, b

    return {
        "sklearn LinearRegression": sk_linear,
        "sklearn SGDRegressor": sk_sgd,
        "dlf closed_form": dlf_closed,
        f"dlf full-batch GD (tol {args.tol:g})": dlf_full,
        f"dlf mini-batch GD ({args.batch_size}, {args.epochs} ep)": dlf_mini,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="training rows (default: 10,000,000)")
    p.add_argument("--features", type=int, default=10, help="features (default: 10)")
    p.add_argument("--test-rows", type=int, default=100_000, help="held-out rows for the test MSE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--full-lr", type=float, default=0.4, help="full-batch GD learning rate (default: 0.4)")
    p.add_argument("--tol", type=float, default=1e-8, help="full-batch GD stops below this relative change")
    p.add_argument("--max-steps", type=int, default=200, help="full-batch GD step limit")
    p.add_argument("--lr", type=float, default=0.02, help="mini-batch GD learning rate (default: 0.02)")
    p.add_argument("--batch-size", type=int, default=1024, help="mini-batch size (default: 1024)")
    p.add_argument("--epochs", type=int, default=1, help="mini-batch GD epochs (default: 1)")
    p.add_argument("--threads", type=int, help="limit torch, BLAS and OpenMP to this many threads (default: as set)")
    args = p.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)

    t0 = time.perf_counter()
    x, y, x_test, y_test = make_data(args.rows, args.test_rows, args.features, args.seed)
    print(f"data: {args.rows:,} x {args.features} float64 ({x.numel() * 8 / 1e9:.2f} GB), "
          f"made in {time.perf_counter() - t0:.1f} s; torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (small-batch steps slow down a lot when "
          "the CPUs are shared)")
    w_ex, b_ex = exact(x, y)
    rows = []
    for name, fit in methods(args).items():
        start = time.perf_counter()
        w, b = fit(x, y)
        seconds = time.perf_counter() - start
        err = linreg.rel_diff(w, b, w_ex, b_ex)
        test_mse = float(((x_test @ w.to(torch.float64) + b - y_test) ** 2).mean())
        rows.append((name, seconds, err, test_mse))
        print(f"  done: {name} in {seconds:.2f} s", flush=True)
    base = rows[0][1]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'method':<{width}}  {'seconds':>8}  {'vs LinReg':>9}  {'rel. param error':>16}  {'test MSE':>10}")
    for name, seconds, err, test_mse in rows:
        print(f"{name:<{width}}  {seconds:8.2f}  {seconds / base:8.2f}x  {err:16.2e}  {test_mse:10.6f}")


if __name__ == "__main__":
    main()
