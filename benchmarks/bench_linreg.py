"""Benchmark: dlf's linear regression against scikit-learn's, on the same data, under the benchmark protocol.

    .venv/bin/python benchmarks/bench_linreg.py                        # 10,000,000 rows x 10 features, 3 pairs
    .venv/bin/python benchmarks/bench_linreg.py --rows 200000          # a quick look
    .venv/bin/python benchmarks/bench_linreg.py --pair dlf-mini,sk-sgd # mini-batch descent against SGDRegressor

The data are y = X w + b + 0.5 N(0, 1) with X ~ N(0, I), float64, made from --seed in each process. The two methods
of --pair run interleaved, each fit in its own process (benchmarks/_protocol.py: at least 3 pairs, the ratio of
each pair and their median, the peak RSS of each process). A process makes the data (not timed), times one fit and
prints the parameters; this process scores them against least squares by QR (torch.linalg.lstsq on [X 1]) and on a
held-out test set. Needs scikit-learn (pip install -e ".[bench]"). Not a test.
Mini-batch descent makes thousands of tiny steps; on a busy machine each multi-threaded tiny op waits for a
descheduled thread, so compare with --threads 1 there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import torch
from _protocol import Metric, Side, add_arguments, interleave, load, report, save_json

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
    """Method id -> fit(x, y) returning (w, b)."""

    def sk_linear(x, y):
        from sklearn.linear_model import LinearRegression

        m = LinearRegression().fit(x.numpy(), y.numpy())
        return torch.from_numpy(m.coef_), float(m.intercept_)

    def sk_sgd(x, y):
        from sklearn.linear_model import SGDRegressor

        m = SGDRegressor(penalty=None, random_state=args.seed).fit(x.numpy(), y.numpy())
        return torch.from_numpy(m.coef_), float(m.intercept_[0])

    def dlf_full(x, y):
        w, b, _ = linreg.fit_gd(x, y, lr=args.full_lr, epochs=args.max_steps, tol=args.tol, record_every=None,
                                generator=torch.Generator().manual_seed(args.seed))
        return w, b

    def dlf_mini(x, y):
        w, b, _ = linreg.fit_gd(x, y, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                                record_every=None, generator=torch.Generator().manual_seed(args.seed))
        return w, b

    return {"sk-linear": sk_linear, "sk-sgd": sk_sgd, "dlf-closed": linreg.closed_form, "dlf-full": dlf_full,
            "dlf-mini": dlf_mini}


NAMES = {"sk-linear": "sklearn LinearRegression", "sk-sgd": "sklearn SGDRegressor", "dlf-closed": "dlf closed_form",
         "dlf-full": "dlf full-batch GD", "dlf-mini": "dlf mini-batch GD"}


def child(args: argparse.Namespace) -> dict:
    """Make the data, time one fit, return its parameters."""
    fit = methods(args)[args.child]
    if args.child.startswith("sk-"):
        import sklearn.linear_model  # noqa: F401  (imported before the clock starts)
    x, y, _, _ = make_data(args.rows, 1, args.features, args.seed)
    start = time.perf_counter()
    w, b = fit(x, y)
    return {"fit_s": time.perf_counter() - start, "w": [float(v) for v in w], "b": float(b)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="training rows (default: 10,000,000)")
    p.add_argument("--features", type=int, default=10, help="features (default: 10)")
    p.add_argument("--test-rows", type=int, default=100_000, help="held-out rows for the test MSE")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pair", default="dlf-closed,sk-linear",
                   help=f"the two methods, dlf's first (default: dlf-closed,sk-linear; from {', '.join(NAMES)})")
    p.add_argument("--full-lr", type=float, default=0.4, help="full-batch GD learning rate (default: 0.4)")
    p.add_argument("--tol", type=float, default=1e-8, help="full-batch GD stops below this relative change")
    p.add_argument("--max-steps", type=int, default=200, help="full-batch GD step limit")
    p.add_argument("--lr", type=float, default=0.02, help="mini-batch GD learning rate (default: 0.02)")
    p.add_argument("--batch-size", type=int, default=1024, help="mini-batch size (default: 1024)")
    p.add_argument("--epochs", type=int, default=1, help="mini-batch GD epochs (default: 1)")
    p.add_argument("--threads", type=int, help="limit torch, BLAS and OpenMP to this many threads (default: as set)")
    add_arguments(p)
    p.add_argument("--child", choices=list(NAMES), help=argparse.SUPPRESS)
    return p


def main() -> None:
    args = parser().parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    if args.child:
        print(json.dumps(child(args)))
        return
    pair = args.pair.split(",")
    if len(pair) != 2 or not set(pair) <= set(NAMES):
        raise SystemExit(f"--pair takes two of {', '.join(NAMES)} (got {args.pair!r})")
    before = load()
    x, y, x_test, y_test = make_data(args.rows, args.test_rows, args.features, args.seed)
    w_ex, b_ex = exact(x, y)
    del x, y
    sides = [Side(NAMES[m], [sys.executable, __file__, *sys.argv[1:], "--child", m]) for m in pair]
    pairs = interleave(*sides, pairs=args.pairs, progress=lambda m: print(f"  {m.side}: {m.result['fit_s']:.2f} s",
                                                                            file=sys.stderr, flush=True))
    for m in (m for p in pairs for m in p):  # score each fit against least squares and on the test set
        w, b = torch.tensor(m.result.pop("w"), dtype=torch.float64), m.result.pop("b")
        m.result["rel_error"] = linreg.rel_diff(w, b, w_ex, b_ex)
        m.result["test_mse"] = float(((x_test @ w + b - y_test) ** 2).mean())
    metrics = [Metric("fit_s", "fit s", ",.2f"), Metric("rel_error", "rel. param error", ".2e"),
               Metric("test_mse", "test MSE", ".6f")]
    print(report(f"linear regression, {args.rows:,} x {args.features} float64", pairs, metrics, before,
                 note=f"torch threads {torch.get_num_threads()}"))
    save_json(args.json, "bench_linreg", pairs)


if __name__ == "__main__":
    main()
