"""Experiment `linreg`: linear regression solved twice, by the closed form and by full-batch gradient descent.

(a) A line y = w x + b + noise; (b) y = X w + b + noise with several features. Gradient descent runs until the
relative change of [w, b] in one step falls below --tol (or --max-steps), and must land on the closed-form
solution: the summary reports rel_diff = ||theta_gd - theta_cf|| / ||theta_cf|| for both problems. A learning
rate at or above the stability limit 2 / lambda_max(Hessian) diverges; the run then says so on stderr and in
the summary (`converged` = 0, `lr_stable_limit`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated

import torch

from dlf.config import BaseConfig, Range, require
from dlf.fundamentals import linreg
from dlf.fundamentals.gradient_descent import History
from dlf.plotting import figure

AGREEMENT = 1e-4
"""Gradient descent counts as having reached the closed form within this relative difference."""


@dataclass
class Config(BaseConfig):
    points: Annotated[int, Range(2, 10_000_000)] = 100
    """Number of points on the noisy line (a)."""
    true_w: Annotated[float, Range(-1e6, 1e6)] = 2.0
    """Slope of the line the data come from."""
    true_b: Annotated[float, Range(-1e6, 1e6)] = 1.0
    """Intercept of the line the data come from."""
    noise: Annotated[float, Range(0, 1e6)] = 1.0
    """Standard deviation of the Gaussian noise added to y."""
    features: Annotated[int, Range(1, 10_000)] = 5
    """Number of features of the multivariate problem (b)."""
    multi_points: Annotated[int, Range(3, 10_000_000)] = 200
    """Number of examples of the multivariate problem (b)."""
    lr: Annotated[float, Range(0, 1e6, low_open=True)] = 0.1
    """Learning rate of full-batch gradient descent (diverges at or above 2 / lambda_max, reported)."""
    max_steps: Annotated[int, Range(1, 10_000_000)] = 5000
    """Stop gradient descent after this many steps if it has not converged."""
    tol: Annotated[float, Range(0, 1, low_open=True, high_open=True)] = 1e-10
    """Stop once the relative change of [w, b] in one step is below this."""

    def validate(self) -> None:
        super().validate()
        require(self.multi_points >= self.features + 2, "multi_points", f"must be >= --features + 2 = "
                f"{self.features + 2} so that the least-squares solution is unique", self.multi_points)

    def memory_bytes(self) -> tuple[float, str]:
        """The design matrix of problem (b) and its copies (float32)."""
        return 4 * 8 * self.multi_points * (self.features + 1), "--multi-points or --features"


def _solve(name: str, x: torch.Tensor, y: torch.Tensor, cfg: Config, run) -> tuple[dict, History]:
    """Closed form and gradient descent on one problem; returns the summary part and the GD history."""
    w_cf, b_cf = linreg.closed_form(x, y)
    limit = linreg.stable_lr(x)
    w_gd, b_gd, hist = linreg.fit_gd(x, y, lr=cfg.lr, epochs=cfg.max_steps, tol=cfg.tol,
                                     generator=torch.Generator().manual_seed(cfg.seed))
    cf_loss = float(linreg.loss([w_cf, torch.tensor(b_cf)], x, y))
    run.count("examples", hist.seen[-1], hist.time_s[-1])  # full batch: every example at every step
    for step, value in zip(hist.step, hist.loss):
        run.log(step, problem=name, loss=value, excess_loss=value - cf_loss)
    diff = linreg.rel_diff(w_gd, b_gd, w_cf, b_cf)
    converged = hist.converged and diff <= AGREEMENT
    if not converged:
        why = (f"--lr {cfg.lr} is at or above the stability limit 2/lambda_max = {limit:.4g}, so it diverges"
               if cfg.lr >= limit else f"it stopped {diff:.2g} (relative) from the closed form after {hist.steps} "
               f"steps; raise --max-steps, or --lr up to below {limit:.4g}")
        print(f"dlf: warning: gradient descent on problem ({name}) did not converge: {why}", file=sys.stderr)
    part = {"closed_form_b": b_cf, "gd_b": b_gd, "rel_diff": diff, "gd_steps": hist.steps,
            "converged": int(converged), "lr_stable_limit": limit, "closed_form_loss": cf_loss,
            "gd_loss": hist.loss[-1]}
    if x.shape[1] == 1:
        part |= {"closed_form_w": float(w_cf[0]), "gd_w": float(w_gd[0])}
    else:
        part |= {f"closed_form_w_{i}": float(v) for i, v in enumerate(w_cf)}
        part |= {f"gd_w_{i}": float(v) for i, v in enumerate(w_gd)}
    return part, hist


def _plot(x, y, line: dict, hists: dict[str, History], cf_loss: dict[str, float], run) -> None:
    fig, axes = figure(ncols=3, size=(4.6, 3.8))
    fig.set_layout_engine("constrained")
    ax, ax_loss, ax_excess = axes[0]
    ax.scatter(x[:, 0], y, s=10, alpha=0.6, label="data")
    grid = torch.linspace(float(x.min()), float(x.max()), 2, dtype=torch.float64)
    ax.plot(grid, line["closed_form_w"] * grid + line["closed_form_b"], lw=4, alpha=0.5, label="closed form")
    ax.plot(grid, line["gd_w"] * grid + line["gd_b"], "k--", lw=1.5, label="gradient descent")
    pad = 0.1 * float(y.max() - y.min())
    ax.set_ylim(float(y.min()) - pad, float(y.max()) + pad)  # a diverged fit must not hide the data
    ax.set_title(f"(a) y = {line['gd_w']:.3f} x + {line['gd_b']:.3f} (GD)", fontsize=9)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    for (name, hist), colour in zip(hists.items(), ("tab:blue", "tab:orange")):
        ax_loss.plot(hist.step, hist.loss, color=colour, label=f"{name}: gradient descent")
        ax_loss.axhline(cf_loss[name], color=colour, ls=":", lw=1, label=f"{name}: closed form")
        floor = 1e-13 * cf_loss[name]  # below this the difference is float64 round-off
        excess = [v - cf_loss[name] if v - cf_loss[name] > floor else float("nan") for v in hist.loss]
        ax_excess.plot(hist.step, excess, color=colour, label=name)
    ax_loss.set_yscale("log")
    ax_loss.set_title("mean squared error per step", fontsize=9)
    ax_loss.legend(fontsize=8)
    ax_excess.set_yscale("log")
    ax_excess.set_title("loss minus the closed-form loss (until round-off)", fontsize=9)
    ax_excess.legend(fontsize=8)
    for a in (ax_loss, ax_excess):
        a.set_xlabel("gradient descent step")
    run.save_figure(fig, "linreg")


def run(cfg: Config, run) -> dict:
    gen = torch.Generator().manual_seed(cfg.seed)
    x1, y1 = linreg.make_line(cfg.points, gen, w=cfg.true_w, b=cfg.true_b, noise=cfg.noise)  # (N, 1), (N,)
    xm, ym, _ = linreg.make_multivariate(cfg.multi_points, cfg.features, gen, noise=cfg.noise)  # (M, d), (M,)
    line, hist_line = _solve("a", x1, y1, cfg, run)
    multi, hist_multi = _solve("b", xm, ym, cfg, run)
    names = ("(a) line", f"(b) {cfg.features} features")
    _plot(x1, y1, line, dict(zip(names, (hist_line, hist_multi))),
          dict(zip(names, (line["closed_form_loss"], multi["closed_form_loss"]))), run)
    return line | {f"multi_{k}": v for k, v in multi.items()}
