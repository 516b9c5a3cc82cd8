"""Matplotlib set up for files, not windows (works on headless machines and in CI)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
                     "axes.spines.right": False})


def figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 3.6)):
    """A figure with `nrows x ncols` axes, each about `size` inches."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return fig, axes


__all__ = ["plt", "figure", "gif_of_pngs", "image_grid", "plot_train_val", "save_gif", "show_images"]


def show_images(ax, images, cols: int) -> None:
    """Square images (N, H*W) or (N, H, W) with values in [0, 1], row-major as one mosaic on `ax`: each in a
    1-pixel grey frame, ink dark, the last row left blank where it is short."""
    import math

    import torch

    images = images.detach().float().cpu()
    if images.dim() == 2:
        side = math.isqrt(images.shape[1])
        images = images.view(-1, side, side)
    n, h, w = images.shape
    rows = math.ceil(n / cols)
    tiles = torch.zeros(rows * cols, h + 2, w + 2)
    tiles[:n] = 0.25
    tiles[:n, 1:-1, 1:-1] = images
    mosaic = tiles.view(rows, cols, h + 2, w + 2).permute(0, 2, 1, 3).reshape(rows * (h + 2), cols * (w + 2))
    ax.imshow(mosaic.numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")


def image_grid(images, title: str | None = None, cols: int = 0, fontsize: float = 9.0, inch: float = 0.45):
    """A figure holding one mosaic of `images` (see show_images), about `inch` inches per image, `cols` wide (0: a
    square-ish grid). It grows with the number of images and wraps the title to its width, so that nothing is
    clipped for any count: at least 2.6 inches wide, each title line about fontsize * 1.4 points high."""
    import math
    import textwrap

    n = len(images)
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    width = max(inch * cols, 2.6) + 0.3  # inches
    lines = textwrap.wrap(title, max(12, int(width * 72 / (0.6 * fontsize)))) if title else []  # ~0.6 em a glyph
    height = inch * rows + 0.3 + len(lines) * fontsize * 1.4 / 72
    fig = plt.figure(figsize=(width, height))
    top = 1 - (len(lines) * fontsize * 1.4 / 72 + 0.1) / height  # the mosaic below the title's lines
    ax = fig.add_axes((0.15 / width, 0.15 / height, 1 - 0.3 / width, top - 0.15 / height))
    show_images(ax, images, cols)
    if lines:
        fig.suptitle("\n".join(lines), fontsize=fontsize, y=1 - 0.05 / height, va="top")
    return fig


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


def save_gif(frames: list, path: Path, fps: float, scale: float = 0.5) -> Path:
    """Write uint8 frames, (H, W) grey or (H, W, 3) RGB, as a looping animated GIF, each shrunk by `scale`."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    if scale != 1:
        w, h = images[0].size
        images = [im.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.BILINEAR) for im in images]
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.gif")
    images[0].save(tmp, save_all=True, append_images=images[1:], duration=int(round(1000 / fps)), loop=0,
                   optimize=False)
    os.replace(tmp, path)  # written whole, then renamed: never half a file
    return path


def gif_of_pngs(pngs: list[Path], path: Path, max_frames: int, fps: float = 8.0) -> int:
    """An animated GIF of equally sized PNGs (at most max_frames, evenly spaced, the first and last included), the
    last frame held for a second; returns the number of distinct frames (0, and no file, when there are none)."""
    import numpy as np
    from PIL import Image

    if not pngs:
        return 0
    keep = sorted({round(i) for i in np.linspace(0, len(pngs) - 1, min(max_frames, len(pngs)))})
    frames = []
    for i in keep:
        with Image.open(pngs[i]) as im:
            frames.append(np.asarray(im.convert("L")))
    save_gif(frames + [frames[-1]] * int(fps), path, fps=fps, scale=1)
    return len(keep)
