"""Experiment `universality`: one hidden layer fits a function better and better as it widens (Hornik 1991).

For each activation and each width, fit f(x) = sum_j v_j act(w_j x + b_j) + c to the target on the interval
and measure the max and RMS error on a dense grid. Plots: the fits against the target, the error against the
width (log-log), and the hidden units' contributions adding up to the fit (the picture behind the theorem).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import torch
from tqdm import tqdm

from dlf.config import BaseConfig, Device, Range, Text, require
from dlf.errors import ConfigError
from dlf.fundamentals import activations as act
from dlf.fundamentals import universality as uni
from dlf.fundamentals.expr import Target, parse_target
from dlf.plotting import figure
from dlf.runtime import pick_device


@dataclass
class Config(BaseConfig):
    device: Device = "auto"
    """Where to compute: auto picks cuda, then mps, then cpu."""
    target: Annotated[str, Text(500)] = "sin"
    """Function to fit: a preset (sin, abs, poly, gauss, step, sawtooth) or an expression in x,
    e.g. 'sin(3*x) + x**2'."""
    interval: Annotated[tuple[float, float], Range(-1e6, 1e6)] = (-3.14159, 3.14159)
    """Fit on [a, b], given as two numbers a b, e.g. --interval -2 2."""
    widths: Annotated[tuple[int, ...], Range(1, 4096)] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    """Numbers of hidden units to try, e.g. 1 2 4."""
    activations: Annotated[tuple[str, ...], Text(20)] = ("sigmoid", "tanh", "relu")
    """Activations of the hidden units (sigmoid, tanh, relu)."""
    steps: Annotated[int, Range(0, 1_000_000)] = 600
    """Full-batch training steps per fit."""
    lr: Annotated[float, Range(0, 1e6, low_open=True)] = 0.01
    """Peak learning rate (warm-up, then cosine decay); lbfgs ignores it and uses a line search."""
    optimizer: Literal["adam", "sgd", "lbfgs"] = "adam"
    """adam, sgd (with momentum 0.9) or lbfgs."""
    points: Annotated[int, Range(4, 100_000)] = 256
    """Evenly spaced training points on the interval (errors are measured on a 4001-point grid)."""
    show_width: Annotated[int, Range(1, 4096)] = 8
    """Draw the hidden units' contributions for this width (the nearest one in --widths)."""

    def validate(self) -> None:
        super().validate()
        lo, hi = self.interval
        require(lo < hi, "interval", "must be two numbers a b with a < b", self.interval)
        require(len(set(self.widths)) == len(self.widths), "widths", "must not repeat a width", self.widths)
        require(all(a in act.NAMES for a in self.activations), "activations",
                f"must be names from {', '.join(act.NAMES)}", self.activations)
        self.parsed_target()

    def parsed_target(self) -> Target:
        """The target as a function of x, checked to be finite on the interval."""
        try:
            target = parse_target(self.target)
            target.check_finite(self.interval)
        except ConfigError as exc:
            raise ConfigError(f"--target: {exc}") from None
        return target


def run(cfg: Config, run) -> dict:
    target = cfg.parsed_target()
    device = pick_device(cfg.device)
    jobs = [(a, w) for a in cfg.activations for w in cfg.widths]
    models: dict[tuple[str, int], uni.OneHiddenLayer] = {}
    summary: dict[str, float] = {}
    for i, (name, width) in enumerate(tqdm(jobs, desc="fits", disable=True if run.quiet else None, leave=False)):
        start = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed)  # one per fit: a width's result does not depend on the others
        model, curve = uni.fit(target, width, name, cfg.steps, cfg.lr, cfg.optimizer, cfg.interval, cfg.points,
                               gen, device)
        err = uni.errors(model, target, cfg.interval)
        run.timing[f"{name}_fit_s"] = round(run.timing.get(f"{name}_fit_s", 0.0) + time.perf_counter() - start, 3)
        run.count("examples", cfg.steps * cfg.points, time.perf_counter() - start)  # full batch of --points
        models[name, width] = model
        summary[f"{name}_w{width}_max_error"] = err["max_error"]
        summary[f"{name}_w{width}_rms_error"] = err["rms_error"]
        run.log(i, activation=name, width=width, max_error=err["max_error"], rms_error=err["rms_error"],
                start_train_rms=curve[0], final_train_rms=curve[-1])
    if len(cfg.widths) >= 2:
        for name in cfg.activations:
            summary[f"{name}_rms_loglog_slope"] = _loglog_slope(cfg.widths, [summary[f"{name}_w{w}_rms_error"]
                                                                              for w in cfg.widths])
    x = np.linspace(cfg.interval[0], cfg.interval[1], 1001)
    run.save_figure(_plot_fits(cfg, target, models, x), "fits")
    run.save_figure(_plot_errors(cfg, summary), "error_vs_width")
    run.save_figure(_plot_contributions(cfg, target, models, x), "contributions")
    return summary


def _loglog_slope(widths, errs) -> float:
    """Slope p of log(error) ~ p log(width) + const: the error falls like width^p."""
    logw, loge = np.log(np.asarray(widths, float)), np.log(np.maximum(np.asarray(errs, float), 1e-300))
    return float(np.polyfit(logw, loge, 1)[0])


def _shown_widths(widths: tuple[int, ...], n: int = 4) -> list[int]:
    ordered = sorted(widths)
    picks = np.unique(np.linspace(0, len(ordered) - 1, min(n, len(ordered))).round().astype(int))
    return [ordered[i] for i in picks]


def _plot_fits(cfg: Config, target: Target, models: dict, x: np.ndarray):
    fig, axes = figure(ncols=len(cfg.activations), size=(4.4, 3.4))
    for ax, name in zip(axes[0], cfg.activations):
        ax.plot(x, target(x), "k--", lw=2, label=f"target {target.formula}")
        for width in _shown_widths(cfg.widths):
            ax.plot(x, uni.predict(models[name, width], x), lw=1.3, label=f"width {width}")
        ax.set_title(f"{name} hidden units", fontsize=10)
        ax.set_xlabel("x")
        ax.legend(fontsize=7)
    fig.suptitle("One hidden layer fits the target better as it widens", y=1.03)
    return fig


def _plot_errors(cfg: Config, summary: dict):
    fig, axes = figure(size=(5.6, 4.0))
    ax = axes[0][0]
    widths = sorted(cfg.widths)
    for name in cfg.activations:
        rms = [summary[f"{name}_w{w}_rms_error"] for w in widths]
        mx = [summary[f"{name}_w{w}_max_error"] for w in widths]
        slope = summary.get(f"{name}_rms_loglog_slope")
        label = f"{name} RMS" + (f" (~ width^{slope:.2f})" if slope is not None else "")
        (line,) = ax.loglog(widths, rms, "o-", label=label)
        ax.loglog(widths, mx, "s--", color=line.get_color(), alpha=0.6, ms=4, label=f"{name} max")
    ax.set_xlabel("width (hidden units)")
    ax.set_ylabel("error on the interval")
    ax.set_title(f"Error against width, target {cfg.target}", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def _plot_contributions(cfg: Config, target: Target, models: dict, x: np.ndarray):
    width = min(cfg.widths, key=lambda w: (abs(math.log(w / cfg.show_width)), w))
    fig, axes = figure(ncols=len(cfg.activations), size=(4.4, 3.6))
    for ax, name in zip(axes[0], cfg.activations):
        model = models[name, width]
        p = next(model.parameters())
        with torch.no_grad():
            parts = model.contributions(torch.as_tensor(x, dtype=p.dtype, device=p.device)).cpu().numpy()  # (N, w)
            c = float(model.c)
        for j in range(parts.shape[1]):
            ax.plot(x, parts[:, j], lw=0.8, alpha=0.7)
        ax.plot(x, target(x), "k--", lw=2, label="target")
        ax.plot(x, parts.sum(axis=1) + c, color="crimson", lw=2, label=f"sum + c (c = {c:.2f})")
        ax.set_title(f"{name}: {width} units v_j {name}(w_j x + b_j)", fontsize=9)
        ax.set_xlabel("x")
        ax.legend(fontsize=7)
    fig.suptitle("Each hidden unit adds one step or kink; their sum is the network", y=1.03)
    return fig
