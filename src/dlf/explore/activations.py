"""Explorer page "Activations": sigmoid, tanh and ReLU with their derivatives; type a value, see each output.

The functions and their hand-written derivatives are dlf.fundamentals.activations.
"""

from __future__ import annotations

import torch

from dlf.explore import svg
from dlf.explore.share import Field
from dlf.fundamentals.activations import ACTIVATIONS

TAB = "activations"
TITLE = "Activations"
COLORS = {"sigmoid": svg.BLUE, "tanh": svg.ORANGE, "relu": svg.GREEN}
SPAN = 6.0

FIELDS = (Field("z", "z (type a value)", "float", 1.0, -50.0, 50.0, None, widget="number",
                info="the weighted sum w·x + b that goes into the activation"),)


def table(z: float) -> tuple[str, dict[str, tuple[float, float]]]:
    """A markdown table of f(z) and f'(z) for every activation, and the numbers themselves."""
    t = torch.tensor(z, dtype=torch.float64)
    values = {name: (float(a.fn(t)), float(a.grad(t))) for name, a in ACTIVATIONS.items()}
    rows = [f"| {name} | `{a.formula}` | {values[name][0]:.6g} | {values[name][1]:.6g} |"
            for name, a in ACTIVATIONS.items()]
    head = f"| activation | f(z) | f({z:g}) | f'({z:g}) |\n|---|---|---|---|\n"
    return head + "\n".join(rows), values


def render(v: dict) -> tuple[str, str]:
    z = float(v["z"])
    md, values = table(z)
    lo, hi = min(-SPAN, z - 1), max(SPAN, z + 1)
    zs = torch.linspace(lo, hi, 301, dtype=torch.float64)
    data = {f"{n}": f"{values[n][0]:.6g}" for n in ACTIVATIONS} | {"z": f"{z:g}"}
    fig = svg.Figure(860, 330, uid="activations-fig", data=data)
    curves = {n: (a.fn(zs).numpy(), a.grad(zs).numpy()) for n, a in ACTIVATIONS.items()}
    for col, (which, title, ylim) in enumerate(((0, "f(z)", (-1.2, 3.0)), (1, "derivative f'(z)", (-0.1, 1.1)))):
        ax = fig.panel(55 + 420 * col, 25, 360, 260, (lo, hi), ylim, title=title, xlabel="z")
        ax.hline(0.0, color="#999", width=1)
        ax.vline(z, color=svg.RED, width=1.2, dash="4 3", cls="z-marker")
        for name, c in curves.items():
            ax.line(zs.numpy(), c[which], color=COLORS[name], width=2, cls=f"curve-{name}")
            ax.points([z], [values[name][which]], colors=COLORS[name], r=5, stroke="black")
        ax.legend([(n, COLORS[n]) for n in ACTIVATIONS], corner="top left")
    return fig.render(), md


def build(limits) -> dict:
    """The page's widgets and events (call inside a gr.Tab); returns what the app needs to restore it."""
    from dlf.explore import widgets

    return widgets.redraw_page(TAB, FIELDS, render, "table", event="change", widths=(1, 3, 240))
