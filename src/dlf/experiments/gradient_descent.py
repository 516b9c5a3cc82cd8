"""Experiment `gradient-descent`: full-batch, stochastic and mini-batch descent on one regression problem.

All three run the same number of epochs (passes over the data) through the same routine; the batch size differs
(n, 1, k), and each has its own learning rate, because the rate a method can use depends on its batch: full batch
is stable up to 2/lambda_max (about 0.92 on the default problem) and its default 0.5 is close to its fastest; a
single example's gradient is far noisier, so SGD needs a smaller rate. Full batch takes one exact step per epoch;
SGD takes n noisy steps per epoch and gets close to the optimum after a fraction of one epoch, then jitters around
it; mini-batch sits between them: far fewer updates than SGD, far less noise. The summary counts the examples each
needed to bring the full-data loss within --target-ratio of the closed-form optimum.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated

import torch
from tqdm import tqdm

from dlf.config import BaseConfig, Range, require
from dlf.fundamentals import linreg
from dlf.fundamentals.gradient_descent import History
from dlf.plotting import figure


@dataclass
class Config(BaseConfig):
    points: Annotated[int, Range(2, 10_000_000)] = 2000
    """Number of training examples of the linear-regression problem."""
    features: Annotated[int, Range(1, 10_000)] = 3
    """Number of input features."""
    noise: Annotated[float, Range(0, 1e6, low_open=True)] = 0.5
    """Standard deviation of the Gaussian noise on y (sets the lowest reachable loss, noise^2)."""
    epochs: Annotated[int, Range(1, 100_000)] = 5
    """Passes over the data, the same for all three methods."""
    lr: Annotated[float, Range(0, 1e6, low_open=True)] = 0.5
    """Learning rate of full-batch descent (it diverges at or above 2/lambda_max of the data, reported as
    lr_stable_limit)."""
    sgd_lr: Annotated[float, Range(0, 1e6, low_open=True)] = 0.01
    """Learning rate of stochastic descent (batch 1)."""
    minibatch_lr: Annotated[float, Range(0, 1e6, low_open=True)] = 0.1
    """Learning rate of mini-batch descent."""
    batch_size: Annotated[int, Range(1, 10_000_000)] = 32
    """Batch size of mini-batch descent (full batch uses --points, stochastic uses 1)."""
    records_per_epoch: Annotated[int, Range(1, 100_000)] = 50
    """How often per epoch the loss on the full data set is recorded (at most once per step); examples-to-target
    is counted at this resolution."""
    target_ratio: Annotated[float, Range(1, 1e6, low_open=True)] = 1.1
    """Count the examples each method needs to reach this multiple of the optimal loss."""

    def validate(self) -> None:
        super().validate()
        require(self.batch_size <= self.points, "batch_size", f"must lie in [1, --points {self.points}]",
                self.batch_size)

    def memory_bytes(self) -> tuple[float, str]:
        """The data (float32) with copies, and the loss records of three methods."""
        return 4 * 8 * self.points * (self.features + 1) + 3 * 64 * self.epochs * self.records_per_epoch, \
            "--points, --features, --epochs or --records-per-epoch"


def methods(cfg: Config) -> dict[str, tuple[str, int, float]]:
    """Summary key -> (label, batch size, learning rate)."""
    return {"full": (f"full batch, lr {cfg.lr:g}", cfg.points, cfg.lr),
            "sgd": (f"stochastic (batch 1), lr {cfg.sgd_lr:g}", 1, cfg.sgd_lr),
            "minibatch": (f"mini-batch ({cfg.batch_size}), lr {cfg.minibatch_lr:g}", cfg.batch_size,
                          cfg.minibatch_lr)}


def _plot(cfg: Config, hists: dict[str, History], optimum: float, target: float, run) -> None:
    fig, axes = figure(ncols=3, size=(4.6, 3.8))
    labels = {k: label for k, (label, _, _) in methods(cfg).items()}
    for ax, xkey, xlabel in zip(axes[0], ("epoch", "time_s", "seen"),
                                ("epochs", "compute time (s)", "examples seen")):
        for key, hist in hists.items():
            xs = getattr(hist, xkey)
            first = 0 if xkey == "epoch" else 1  # time 0 and 0 examples seen have no place on a log axis
            ax.plot(xs[first:], hist.loss[first:], lw=1.2, label=labels[key], marker="o" if key == "full" else None,
                    ms=3)
        ax.axhline(optimum, color="k", ls=":", lw=1, label="optimum (closed form)")
        ax.axhline(target, color="grey", ls="--", lw=0.8, label=f"target: {cfg.target_ratio:g} x optimum")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
    axes[0][0].set_ylabel("loss on all examples (log scale)")
    axes[0][1].set_xscale("log")
    axes[0][2].set_xscale("log")
    axes[0][0].legend(fontsize=8)
    axes[0][0].set_title(f"loss per epoch ({cfg.points} examples)", fontsize=9)
    axes[0][1].set_title("loss against wall time", fontsize=9)
    axes[0][2].set_title("loss against examples seen", fontsize=9)
    run.save_figure(fig, "gradient_descent")


def run(cfg: Config, run) -> dict:
    gen = torch.Generator().manual_seed(cfg.seed)
    x, y, _ = linreg.make_multivariate(cfg.points, cfg.features, gen, noise=cfg.noise)  # (N, d), (N,)
    w_cf, b_cf = linreg.closed_form(x, y)
    optimum = float(linreg.loss([w_cf, torch.tensor(b_cf)], x, y))
    target = cfg.target_ratio * optimum
    limit = linreg.stable_lr(x)
    if cfg.lr >= limit:
        print(f"dlf: warning: --lr {cfg.lr} is at or above the full-batch stability limit 2/lambda_max = "
              f"{limit:.4g}; expect divergence", file=sys.stderr)
    summary: dict[str, float | int | None] = {"optimal_loss": optimum, "target_loss": target,
                                              "lr_stable_limit": limit}
    hists: dict[str, History] = {}
    bar = tqdm(total=3 * cfg.epochs, desc="gradient descent", unit="epoch", disable=True if run.quiet else None,
               leave=False)
    for key, (_, batch, lr) in methods(cfg).items():
        steps_per_epoch = -(-cfg.points // batch)
        _, _, hist = linreg.fit_gd(x, y, lr=lr, epochs=cfg.epochs, batch_size=batch,
                                   generator=torch.Generator().manual_seed(cfg.seed + 1),
                                   record_every=max(1, steps_per_epoch // cfg.records_per_epoch),
                                   progress=lambda _epoch: bar.update())
        hists[key] = hist
        for step, epoch, seen, loss in zip(hist.step, hist.epoch, hist.seen, hist.loss):
            run.log(step, method=key, epoch=epoch, seen=seen, loss=loss)
        summary |= {f"{key}_final_loss": hist.loss[-1], f"{key}_steps": hist.steps,
                    f"{key}_steps_per_epoch": hist.steps_per_epoch,
                    f"{key}_examples_to_target": hist.first_seen_below(target), f"{key}_diverged": int(hist.diverged)}
        run.timing[f"{key}_s"] = round(hist.time_s[-1], 4)
        run.count("examples", hist.seen[-1], hist.time_s[-1])
    bar.close()
    _plot(cfg, hists, optimum, target, run)
    return summary
