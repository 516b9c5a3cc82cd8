"""Explorer page "Gradient descent": full-batch, stochastic and mini-batch paths over the loss contour of (w, b).

Data y = 2 x + 1 + noise (dlf.fundamentals.linreg.make_line); the loss is linreg.loss, the mean squared error
of w x + b. All three paths come from the lecture's one routine, dlf.fundamentals.gradient_descent, with batch
sizes n, 1 and k; the page only records where the parameters were before each step. linreg.stable_lr gives
2 / lambda_max, the learning rate at which full-batch descent starts to diverge; above 1 / lambda_max it
zig-zags across the valley while it converges.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

import numpy as np
import torch

from dlf.explore import svg
from dlf.explore.session import Limits, PageState, frames
from dlf.explore.share import Field
from dlf.fundamentals import linreg
from dlf.fundamentals.gradient_descent import gradient_descent

TAB = "descent"
TITLE = "Gradient descent"
START = (-1.0, -2.0)  # (w, b) where every method starts
TRUE_W, TRUE_B, X_RANGE = 2.0, 1.0, (0.0, 4.0)
GRID = 60
COLORS = {"full": svg.BLUE, "sgd": svg.ORANGE, "mini": svg.GREEN}
FRAME_S = 0.05  # animation: seconds per frame

FIELDS = (
    Field("lr", "learning rate", "float", 0.05, 0.001, 0.3, 0.001,
          info="try 0.05 (converges), 0.12 (zig-zags), 0.2 (diverges)"),
    Field("points", "data points n", "int", 40, 10, 200, 1),
    Field("noise", "noise on y", "float", 1.0, 0.0, 3.0, 0.1),
    Field("batch", "mini-batch size k", "int", 8, 2, 64, 1),
    Field("steps", "steps", "int", 60, 5, 300, 1, info="updates drawn for each method"),
    Field("seed", "seed", "int", 0, 0, 999, 1),
)


@lru_cache(maxsize=32)
def problem(points: int, noise: float, seed: int) -> dict:
    """The data, the closed-form optimum, the stability limit and the loss on a (w, b) grid (cached)."""
    x, y = linreg.make_line(points, torch.Generator().manual_seed(seed), w=TRUE_W, b=TRUE_B, noise=noise,
                            x_range=X_RANGE)
    w_opt, b_opt = linreg.closed_form(x, y)
    opt = (float(w_opt[0]), b_opt)
    half = (max(1.6 * abs(START[0] - opt[0]), 1.0), max(1.6 * abs(START[1] - opt[1]), 1.0))
    ws = np.linspace(opt[0] - half[0], opt[0] + half[0], GRID)
    bs = np.linspace(opt[1] - half[1], opt[1] + half[1], GRID)
    loss = np.array([[float(linreg.loss([torch.tensor([w], dtype=x.dtype), torch.tensor(b, dtype=x.dtype)], x, y))
                      for w in ws] for b in bs])  # (GRID b, GRID w)
    opt_loss = float(linreg.loss([w_opt, torch.tensor(b_opt, dtype=x.dtype)], x, y))
    return {"x": x, "y": y, "opt": opt, "opt_loss": opt_loss, "stable_lr": linreg.stable_lr(x), "ws": ws, "bs": bs,
            "loss": loss}


@lru_cache(maxsize=64)
def paths(lr: float, points: int, noise: float, batch: int, steps: int, seed: int) -> dict[str, dict]:
    """Per method: (w, b) before every step and after the last, the loss after each step, and whether it diverged."""
    p = problem(points, noise, seed)
    x, y = p["x"], p["y"]
    out = {}
    for key, size in (("full", points), ("sgd", 1), ("mini", min(batch, points - 1))):
        visited: list[tuple[float, float]] = []

        def grad_fn(params, xb, yb, visited=visited):
            visited.append((float(params[0][0]), float(params[1])))  # where the parameters are before this step
            return linreg.grad(params, xb, yb)

        per_epoch = math.ceil(points / size)
        start = [torch.tensor([START[0]], dtype=x.dtype), torch.tensor(START[1], dtype=x.dtype)]
        (w, b), hist = gradient_descent(grad_fn, linreg.loss, start, x, y, batch_size=size, lr=lr,
                                        epochs=math.ceil(steps / per_epoch), generator=torch.Generator()
                                        .manual_seed(seed + 1), record_every=1)
        visited.append((float(w[0]), float(b)))
        out[key] = {"wb": np.array(visited[: steps + 1]), "loss": np.array(hist.loss[: steps + 1]),
                    "diverged": hist.diverged, "size": size}
    return out


def verdict(lr: float, stable: float) -> str:
    if lr >= stable:
        return "diverges"
    return "zig-zags across the valley but converges" if lr > stable / 2 else "converges smoothly"


class DState(PageState):
    def __init__(self) -> None:
        super().__init__()
        self.k: int | None = None  # steps drawn; None: all of them


def render(v: dict, k: int | None, rate: float = 0.0) -> tuple[str, str]:
    """The contour with every method's first k steps (all of them when k is None), and the status text."""
    p = problem(v["points"], v["noise"], v["seed"])
    runs = paths(v["lr"], v["points"], v["noise"], v["batch"], v["steps"], v["seed"])
    k = v["steps"] if k is None else k
    ws, bs, loss = p["ws"], p["bs"], p["loss"]
    shown = {key: r["loss"][min(k, len(r["loss"]) - 1)] for key, r in runs.items()}
    fig = svg.Figure(900, 470, uid="descent-fig",
                     data={"step": k, "lr": v["lr"], "verdict": verdict(v["lr"], p["stable_lr"])}
                     | {f"{key}-loss": f"{val:.6g}" for key, val in shown.items()})
    ax = fig.panel(55, 30, 420, 400, (ws[0], ws[-1]), (bs[0], bs[-1]), xlabel="w (slope)", ylabel="b (intercept)",
                   grid=False, title="loss L(w, b) and the path of each method")
    ax.image(svg.colormap(np.log(loss[::-1]), "Greys_r", np.log(p["opt_loss"]) - 3, np.log(loss.max()) + 1))
    levels = p["opt_loss"] * np.geomspace(1.05, loss.max() / p["opt_loss"], 12)
    ax.contour(ws, bs, loss, levels, color="#888", width=1)
    ax.points([p["opt"][0]], [p["opt"][1]], colors="black", r=5, stroke="white")
    labels = {"full": f"full batch ({v['points']})", "sgd": "stochastic (1)", "mini": f"mini-batch ({v['batch']})"}
    for key, r in runs.items():
        wb = r["wb"][: k + 1]
        ax.line(wb[:, 0], wb[:, 1], color=COLORS[key], width=2.2 if key == "full" else 1.4, cls=f"path-{key}")
        if key == "full":
            ax.points(wb[:, 0], wb[:, 1], colors=COLORS[key], r=2.5, stroke="none")
        ax.points(wb[-1:, 0], wb[-1:, 1], colors=COLORS[key], r=5, stroke="black")
    ax.legend([(labels[key], COLORS[key]) for key in runs], corner="bottom right")
    curve = fig.panel(560, 30, 320, 400, (0, v["steps"]), _loss_lim(runs, p["opt_loss"]), ylog=True,
                      xlabel="step", title="loss on all points after each step")
    curve.hline(p["opt_loss"], color="black", dash="4 3", width=1)
    for key, r in runs.items():
        steps = np.arange(len(r["loss"]))[: k + 1]
        curve.line(steps, r["loss"][: k + 1], color=COLORS[key], width=1.8, cls=f"loss-{key}")
    return fig.render(), status(v, p, runs, k, rate)


def _loss_lim(runs: dict, opt_loss: float) -> tuple[float, float]:
    top = max(float(np.nanmax(np.where(np.isfinite(r["loss"]), r["loss"], np.nan))) for r in runs.values())
    return opt_loss / 1.3, min(top * 1.5, opt_loss * 1e8)


def status(v: dict, p: dict, runs: dict, k: int, rate: float) -> str:
    stable = p["stable_lr"]
    ends = []
    for key, name in (("full", "full batch"), ("sgd", "stochastic"), ("mini", "mini-batch")):
        r = runs[key]
        if r["diverged"] and k >= len(r["loss"]) - 1:
            ends.append(f"{name} **diverged** at step {len(r['loss']) - 1}")
        else:
            ends.append(f"{name} {r['loss'][min(k, len(r['loss']) - 1)]:.4g}")
    return (f"2/λmax = **{stable:.3g}**: full batch diverges at or above it and zig-zags above 1/λmax = "
            f"{stable / 2:.3g}. At lr {v['lr']:g} it **{verdict(v['lr'], stable)}**.\n\n"
            f"loss after {k} steps: " + ", ".join(ends) + f" (optimum {p['opt_loss']:.4g})"
            + (f" · {rate:.0f} frames/s" if rate else ""))


def animate(state: DState, v: dict, limits: Limits):
    """Draw the paths step by step, about 1 / FRAME_S frames a second, advancing so that it lasts ~6 s at most."""
    stride = max(1, v["steps"] // 120)
    state.k = 0

    def step(deadline: float, steps_left: int) -> int:
        time.sleep(max(0.0, min(deadline, time.perf_counter() + FRAME_S) - time.perf_counter()))
        state.k = min(state.k + stride, v["steps"])
        return stride

    def draw(reason: str) -> tuple[str, str]:
        k = state.k
        if not reason and k >= v["steps"]:
            state.stop.set()  # the last step is drawn: frames() ends after this frame
        return render(v, k, state.rate.per_second())

    yield from frames(state, limits, step, draw)
    state.k = None


def build(limits: Limits) -> dict:
    import gradio as gr

    from dlf.explore import widgets

    state = gr.State(DState)
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            with gr.Row():
                run_b = gr.Button("Run step by step", variant="primary", elem_id=f"{TAB}-train", min_width=80)
                stop_b = gr.Button("Stop", elem_id=f"{TAB}-stop", min_width=80)
            comps = widgets.controls(TAB, FIELDS)
        with gr.Column(scale=3):
            text = widgets.status_box(TAB)
            fig = widgets.plot(TAB)
    widgets.link_row(TAB, FIELDS, comps)
    inputs, outputs = {state, *comps}, [fig, text]

    def draw(data: dict) -> tuple[str, str]:
        return render(widgets.read(FIELDS, comps, data), None)

    def run(data: dict):
        yield from animate(data[state], widgets.read(FIELDS, comps, data), limits)

    run_b.click(run, inputs, outputs, api_visibility="private", concurrency_limit=limits.max_training,
                concurrency_id="train", **widgets.QUIET)
    stop_b.click(lambda s: s.stop.set(), state, None, api_visibility="private", queue=False)
    for c in comps:
        c.input(draw, inputs, outputs, api_name=False, **widgets.LIVE)
    return {"fields": FIELDS, "comps": comps, "refresh": (draw, inputs, outputs)}
