"""Pictures of one unit of a char-RNN over text: its value after each character, and its final value by label.

Values are oriented so that up means positive (the unit is negated when its read-out weight is negative) and are
drawn relative to `threshold`, the midpoint between the mean final values of positive and negative sentences:
green above it, red below.
"""

from __future__ import annotations

import math

import numpy as np

from dlf.plotting import figure, plt

Item = tuple[str, str, np.ndarray]  # (label, text, the unit's value after each character of text)


def histogram(run, final: np.ndarray, labels: np.ndarray, threshold: float, name: str, title: str) -> None:
    """The unit's value after each MR sentence's last character, positive and negative sentences overlaid."""
    fig, axes = figure(size=(6.5, 3.8))
    ax = axes[0][0]
    lo, hi = np.quantile(final, [0.005, 0.995])
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 50)
    clipped = np.clip(final, bins[0], bins[-1])
    ax.hist(clipped[labels == 1], bins, alpha=0.55, color="tab:green", label="positive")
    ax.hist(clipped[labels == 0], bins, alpha=0.55, color="tab:red", label="negative")
    ax.axvline(threshold, color="k", ls="--", lw=1, label="midpoint of the two means")
    ax.set_xlabel(f"{name} after the sentence's last character")
    ax.set_ylabel("MR sentences")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    run.save_figure(fig, "unit_histogram")


def text_heatmap(run, items: list[Item], threshold: float, title: str, width: int = 72) -> None:
    """Each text wrapped at `width` characters, every character on a background coloured by the unit's value."""
    rows = [max(1, math.ceil(len(text) / width)) for _, text, _ in items]
    vmax = float(np.quantile(np.abs(np.concatenate([v for _, _, v in items]) - threshold), 0.98)) or 1.0
    cmap = plt.get_cmap("RdYlGn").with_extremes(bad="white")
    fig, axes = plt.subplots(len(items), 1, figsize=(0.115 * width + 1.2, 0.26 * sum(rows) + 0.25 * len(items) + 0.8),
                             gridspec_kw={"height_ratios": rows}, squeeze=False)
    for ax, (label, text, values), n in zip(axes[:, 0], items, rows):
        grid = np.full(n * width, np.nan)
        grid[:len(text)] = values - threshold
        ax.imshow(grid.reshape(n, width), cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
        for i, ch in enumerate(text):
            ax.text(i % width, i // width, ch, ha="center", va="center", fontsize=7, family="monospace")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10)
    run.save_figure(fig, "unit_sentences")


def traces(run, items: list[Item], threshold: float, name: str, title: str) -> None:
    """The unit's value along whole reviews (characters along x); faint lines mark the ends of sentences."""
    fig, axes = figure(nrows=len(items), size=(11, 1.7))
    for ax, (label, text, values) in zip(axes[:, 0], items):
        x = np.arange(len(values))
        for i in (i for i, ch in enumerate(text) if ch == "\n"):
            ax.axvline(i, color="0.85", lw=0.5)
        ax.fill_between(x, threshold, values, where=values >= threshold, color="tab:green", alpha=0.35, lw=0)
        ax.fill_between(x, threshold, values, where=values < threshold, color="tab:red", alpha=0.35, lw=0)
        ax.plot(x, values, color="k", lw=0.6)
        ax.axhline(threshold, color="k", ls="--", lw=0.6)
        ax.set_xlim(0, max(1, len(values) - 1))
        ax.set_ylabel(f"{label}\n{name}", fontsize=8)
        ax.grid(False)
    axes[-1][0].set_xlabel("character")
    fig.suptitle(title, fontsize=10)
    run.save_figure(fig, "unit_reviews")
