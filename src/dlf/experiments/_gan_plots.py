"""The gan experiment's figures: the two losses and D's outputs, the Parzen width search, the digits drawn."""

from __future__ import annotations

import numpy as np
import torch

from dlf.experiments import _sample_metrics as metrics
from dlf.plotting import figure


def plot_curves(run) -> None:
    """Left: the two losses; right: D's mean output on real and on generated images (1/2 at the equilibrium)."""
    rows = run.read_metrics()
    fig, axes = figure(ncols=2)
    panels = ((("d_loss", "D loss"), ("g_loss", "G loss (non-saturating)")),
              (("d_real", "D(x), real"), ("d_fake", "D(G(z)), generated")))
    for ax, panel in zip(axes[0], panels):
        for key, label in panel:
            pts = [(r["step"], r["train_" + key]) for r in rows if r.get("train_" + key) is not None]
            if pts:
                ax.plot(*zip(*pts), label=label)
        ax.set_xlabel("step")
        ax.legend()
    axes[0][0].axhline(2 * np.log(2), color="grey", ls=":", lw=1)  # L_D at D = 1/2 everywhere
    axes[0][1].axhline(0.5, color="grey", ls=":", lw=1)
    axes[0][1].set_ylim(0, 1)
    axes[0][0].set_title("losses (dotted: 2 log 2, D guessing)")
    axes[0][1].set_title("discriminator's output")
    run.save_figure(fig, "curves")


def plot_parzen(run, parzen: dict) -> None:
    fig, axes = figure()
    ax = axes[0][0]
    ax.semilogx(metrics.PARZEN_SIGMAS.numpy(), parzen["val_curve"], "o-")
    ax.axvline(parzen["sigma"], color="grey", ls=":")
    ax.set_xlabel("window width sigma")
    ax.set_ylabel("mean log-likelihood (nats)")
    ax.set_title(f"Parzen window on validation images: sigma = {parzen['sigma']:.3f}")
    run.save_figure(fig, "parzen")


def plot_digits(run, share: torch.Tensor, test_share: torch.Tensor) -> None:
    fig, axes = figure()
    ax = axes[0][0]
    ax.bar(np.arange(10) - 0.2, share.numpy(), 0.4, label="generated")
    ax.bar(np.arange(10) + 0.2, test_share.numpy(), 0.4, label="test images", alpha=0.6)
    ax.set_xticks(range(10))
    ax.set_xlabel("digit, as the CNN reads it")
    ax.set_ylabel("share")
    ax.set_title("mode coverage: which digits the generator draws")
    ax.axhline(0.1, color="grey", lw=0.8, ls="--")  # a uniform share
    ax.set_ylim(0, 1.35 * float(max(share.max(), test_share.max())))  # room above the bars for the legend
    ax.legend(loc="upper center", ncols=2)
    run.save_figure(fig, "digits")
