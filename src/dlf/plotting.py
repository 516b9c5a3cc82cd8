"""Matplotlib set up for files, not windows (works on headless machines and in CI)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
                     "axes.spines.right": False})


def figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 3.6)):
    """A figure with `nrows x ncols` axes, each about `size` inches."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return fig, axes


__all__ = ["plt", "figure"]


def plot_train_val(run, keys: tuple[tuple[str, str], ...], log_scale: tuple[str, ...] = (), name: str = "curves"):
    """One panel per metric: `train_<key>` as a line and `val_<key>` as dots, against the step (from metrics.jsonl)."""
    rows = run.read_metrics()
    fig, axes = figure(ncols=len(keys))
    for (key, label), ax in zip(keys, axes[0]):
        for prefix, style in (("train_", "-"), ("val_", "o-")):
            pts = [(r["step"], r[prefix + key]) for r in rows if r.get(prefix + key) is not None]
            if pts:
                ax.plot(*zip(*pts), style, label=prefix.rstrip("_").replace("val", "test"), ms=3)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        if key in log_scale:
            ax.set_yscale("log")
        ax.legend()
    run.save_figure(fig, name)
