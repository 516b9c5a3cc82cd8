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
    import gradio as gr

    from dlf.explore import widgets

    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            comps = widgets.controls(TAB, FIELDS)
        with gr.Column(scale=3):
            fig = widgets.plot(TAB)
            text = gr.Markdown(elem_id=f"{TAB}-table")
    widgets.link_row(TAB, FIELDS, comps)

    def draw(data: dict) -> tuple[str, str]:
        return render(widgets.read(FIELDS, comps, data))

    for c in comps:
        c.change(draw, set(comps), [fig, text], api_name=False, **widgets.LIVE)
    return {"fields": FIELDS, "comps": comps, "refresh": (draw, set(comps), [fig, text])}
