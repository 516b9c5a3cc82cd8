"""Experiment `activations`: sigmoid, tanh and ReLU and their derivatives, plotted and checked against autograd."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch

from dlf.config import BaseConfig, Range
from dlf.fundamentals import activations as act
from dlf.plotting import figure


@dataclass
class Config(BaseConfig):
    z_max: Annotated[float, Range(0, 1000, low_open=True)] = 6.0
    """Plot each activation on [-z_max, z_max]."""
    points: Annotated[int, Range(3, 1_000_000)] = 601
    """Number of points on the plotted interval."""


def run(cfg: Config, run) -> dict:
    z = torch.linspace(-cfg.z_max, cfg.z_max, cfg.points, dtype=torch.float64)
    fig, axes = figure(ncols=3, size=(4.2, 3.4))
    summary: dict[str, float] = {}
    for ax, name in zip(axes[0], act.NAMES):
        a = act.get(name)
        zz = z.clone().requires_grad_(True)
        y = a(zz)
        (auto,) = torch.autograd.grad(y.sum(), zz)
        by_hand = a.grad(z)
        summary[f"{name}_max_grad_error"] = float((auto - by_hand).abs().max())
        for point in (-2.0, 0.0, 2.0):
            summary[f"{name}_at_{point:g}"] = round(float(a(torch.tensor(point, dtype=torch.float64))), 12)
        ax.plot(z, y.detach(), label=f"{name}(z)", lw=2)
        ax.plot(z, by_hand, "--", label=f"{name}'(z)", lw=2)
        ax.axhline(a.threshold, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{name}: {a.formula}", fontsize=9)
        ax.set_xlabel("z = w·x + b")
        ax.legend(loc="upper left", fontsize=8)
        run.log(0, activation=name, max_grad_error=summary[f"{name}_max_grad_error"])
    fig.suptitle("Activations and their derivatives (dashed); dotted line: the firing threshold")
    run.save_figure(fig, "activations")
    return summary
