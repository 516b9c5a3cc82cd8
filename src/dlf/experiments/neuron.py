"""Experiment `neuron`: one sigmoid neuron, trained by hand-written gradient descent, separates two blobs.

The data are two Gaussian blobs with a gap between them, so a line separates them and the trained neuron must
classify every training point correctly. The plots show the data, the learned boundary w · x + b = 0, the
neuron's output surface sigmoid(w · x + b) and the loss per step.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Annotated

import torch

from dlf.config import BaseConfig, Range, require
from dlf.fundamentals.neuron import Neuron, make_blobs, train_neuron
from dlf.plotting import figure


@dataclass
class Config(BaseConfig):
    points: Annotated[int, Range(4, 1_000_000)] = 200
    """Number of training points, half in each class."""
    distance: Annotated[float, Range(0, 1000, low_open=True)] = 3.0
    """Distance between the two blob centres."""
    std: Annotated[float, Range(0, 1000, low_open=True)] = 0.7
    """Standard deviation of each blob."""
    margin: Annotated[float, Range(0, 1000, low_open=True)] = 0.5
    """Width of the empty gap between the classes (points inside it are redrawn)."""
    lr: Annotated[float, Range(0, 1000, low_open=True)] = 0.5
    """Learning rate of w <- w - lr dL/dw, b <- b - lr dL/db."""
    steps: Annotated[int, Range(1, 10_000_000)] = 300
    """Full-batch gradient descent steps."""

    def validate(self) -> None:
        super().validate()
        require(self.distance > self.margin, "distance", f"must exceed --margin {self.margin}", self.distance)


def _plot(neuron: Neuron, x: torch.Tensor, y: torch.Tensor, loss: list[float], run) -> None:
    fig, axes = figure(ncols=2, size=(5.0, 4.2))
    fig.set_layout_engine("constrained")
    ax, ax_loss = axes[0]
    pad = 1.0
    lo, hi = x.min(0).values - pad, x.max(0).values + pad  # (2,), (2,)
    g1, g2 = torch.meshgrid(torch.linspace(float(lo[0]), float(hi[0]), 200, dtype=torch.float64),
                            torch.linspace(float(lo[1]), float(hi[1]), 200, dtype=torch.float64), indexing="xy")
    out = neuron(torch.stack([g1, g2], dim=-1))  # (200, 200)
    filled = ax.contourf(g1, g2, out, levels=21, cmap="RdBu_r", vmin=0, vmax=1, alpha=0.5)
    fig.colorbar(filled, ax=ax, label="output = sigmoid(w·x + b)")
    ax.contour(g1, g2, neuron.z(torch.stack([g1, g2], dim=-1)), levels=[0.0], colors="k", linewidths=2)
    for label, colour in ((0, "tab:blue"), (1, "tab:red")):
        pts = x[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=12, c=colour, edgecolors="black", linewidths=0.4, label=f"class {label}")
    ax.set_xlim(float(lo[0]), float(hi[0]))
    ax.set_ylim(float(lo[1]), float(hi[1]))
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("data, output surface and the boundary w·x + b = 0 (black)", fontsize=9)
    ax_loss.plot(range(len(loss)), loss, lw=2)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("gradient descent step")
    ax_loss.set_ylabel("binary cross-entropy (log scale)")
    ax_loss.set_title("loss per step", fontsize=9)
    fig.suptitle(neuron.formula(), fontsize=10)
    run.save_figure(fig, "neuron")


def run(cfg: Config, run) -> dict:
    gen = torch.Generator().manual_seed(cfg.seed)
    x, y = make_blobs(cfg.points, gen, distance=cfg.distance, std=cfg.std, margin=cfg.margin)  # (N, 2), (N,)
    start = time.perf_counter()
    neuron, trace = train_neuron(x, y, lr=cfg.lr, steps=cfg.steps)
    run.count("examples", cfg.steps * len(x), time.perf_counter() - start)  # full batch: every point every step
    for step, value in enumerate(trace.loss):
        run.log(step, loss=value)
    accuracy = float((neuron.fires(x).to(y.dtype) == y).to(torch.float64).mean())
    if accuracy < 1.0:
        print(f"dlf: warning: the neuron classifies {accuracy:.1%} of the separable training set correctly after "
              f"{cfg.steps} steps; raise --steps or --lr", file=sys.stderr)
    _plot(neuron, x, y, trace.loss, run)
    w1, w2 = neuron.w.tolist()
    return {"initial_loss": trace.loss[0], "final_loss": trace.loss[-1], "train_accuracy": accuracy,
            "w1": w1, "w2": w2, "b": neuron.b}
