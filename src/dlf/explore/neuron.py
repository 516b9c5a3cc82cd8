"""Explorer page "Neuron": two weights, a bias and an activation; the output over the input plane, and where it fires.

The maths is dlf.fundamentals.neuron.Neuron: z = w1 x1 + w2 x2 + b, output = act(z), and the neuron fires where
the output exceeds act(0), i.e. on the side of the line z = 0 that w points to.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from dlf.explore import svg
from dlf.explore.share import Field
from dlf.fundamentals.activations import NAMES
from dlf.fundamentals.neuron import Neuron

TAB = "neuron"
TITLE = "Neuron"
EXTENT = 3.0  # the plane shown is [-EXTENT, EXTENT]^2
GRID = 80  # pixels of the output image per side

FIELDS = (
    Field("w1", "weight w1", "float", 1.0, -5.0, 5.0, 0.1, info="how strongly input x1 counts"),
    Field("w2", "weight w2", "float", -0.5, -5.0, 5.0, 0.1, info="how strongly input x2 counts"),
    Field("b", "bias b", "float", 0.5, -5.0, 5.0, 0.1, info="shifts the line where the neuron starts to fire"),
    Field("activation", "activation", "choice", "sigmoid", choices=NAMES),
    Field("x1", "probe input x1", "float", 1.0, -EXTENT, EXTENT, 0.1, info="a point to evaluate the neuron at"),
    Field("x2", "probe input x2", "float", 1.0, -EXTENT, EXTENT, 0.1),
)


@functools.cache
def _grid() -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    xs = np.linspace(-EXTENT, EXTENT, GRID)
    ys = xs[::-1].copy()  # row 0 is the top of the image: x2 = +EXTENT
    g1, g2 = np.meshgrid(xs, ys)  # (GRID, GRID) each
    return xs, ys, torch.from_numpy(np.stack([g1.ravel(), g2.ravel()], axis=1))  # (GRID*GRID, 2)


def render(v: dict) -> tuple[str, str]:
    """The figure (SVG) and the formula (markdown) for the settings `v`."""
    neuron = Neuron(torch.tensor([v["w1"], v["w2"]]), v["b"], v["activation"])
    xs, ys, pts = _grid()
    z_t = neuron.z(pts)  # (GRID*GRID,): once, for the output, where it fires and the line z = 0
    out_t = neuron.act(z_t)  # = neuron.output(pts)
    out = out_t.numpy().reshape(GRID, GRID)
    fires = (out_t > neuron.act.threshold).numpy().reshape(GRID, GRID)  # = neuron.fires(pts)
    lo, hi = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(v["activation"], (0.0, max(float(out.max()), 1.0)))
    rgb = svg.colormap(out, "viridis", lo, hi).astype(np.float64)
    rgb[~fires] = 0.45 * rgb[~fires] + 0.55 * 255  # the region that does not fire is washed out
    probe = torch.tensor([v["x1"], v["x2"]], dtype=torch.float64)
    p_out = float(neuron.output(probe))

    fig = svg.Figure(560, 470, uid="neuron-fig",
                     data={"w1": v["w1"], "w2": v["w2"], "b": v["b"], "activation": v["activation"],
                           "fires": f"{fires.mean():.4f}", "output": f"{p_out:.6g}"})
    ax = fig.panel(50, 28, 400, 400, (-EXTENT, EXTENT), (-EXTENT, EXTENT), xlabel="x1", ylabel="x2", grid=False,
                   title=f"output = {v['activation']}(w·x + b); bright: where it fires")
    ax.image(rgb.round().astype(np.uint8), cls="surface", raw=True)  # uncompressed: quick to make while dragging
    z = z_t.numpy().reshape(GRID, GRID)
    ax.contour(xs, ys, z, [0.0], color="white", width=2.5, dash="6 4", cls="boundary")
    w = np.array([v["w1"], v["w2"]])
    if np.linalg.norm(w) > 1e-9:  # w is normal to the line z = 0 and points to where z grows
        foot = -v["b"] * w / float(w @ w)
        tip = foot + w / np.linalg.norm(w)
        ax.arrow(foot[0], foot[1], tip[0], tip[1], color="white")
        ax.text(tip[0], tip[1], " w", color="white", size=13)
    ax.points([v["x1"]], [v["x2"]], colors=svg.RED, r=6, stroke="black", cls="probe")
    bar = fig.panel(490, 28, 18, 400, (0, 1), (lo, hi), grid=False, xticks=False, yside="right")
    bar.image(_colorbar())
    return fig.render(), formula(neuron, probe, float(fires.mean()))


@functools.cache
def _colorbar() -> str:
    """The colour bar's image: the whole colour map from top to bottom, whatever the range its ticks show."""
    return svg.png_data_uri(svg.colormap(np.linspace(1, 0, 64).reshape(64, 1), "viridis", 0, 1))


def formula(neuron: Neuron, probe: torch.Tensor, fire_fraction: float) -> str:
    at = neuron.formula(probe).split("; ", 1)[-1]
    return (f"**`{neuron.formula()}`**\n\n"
            f"at the red point, `{at}`\n\n"
            f"It fires where `z = w1·x1 + w2·x2 + b > 0`: the bright side of the dashed line, "
            f"{100 * fire_fraction:.0f}% of the square shown. The arrow `w` points towards growing `z`.")


def build(limits) -> dict:
    """The page's widgets and events (call inside a gr.Tab); returns what the app needs to restore it."""
    from dlf.explore import widgets

    return widgets.redraw_page(TAB, FIELDS, render, "formula", event="input", widths=(1, 2, 280))
