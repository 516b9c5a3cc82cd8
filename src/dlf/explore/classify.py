"""Explorer page "Classification": a playground in the spirit of TensorFlow Playground, with PyTorch behind it.

Pick a data set, its noise and train/test split, the input features, the hidden layers, the activation, the L2
strength, and train: the decision boundary and the train and test loss update live. The data sets, features,
network, loss and training are dlf.fundamentals.playground.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from dlf.errors import DlfError
from dlf.explore import svg
from dlf.explore.session import Curve, Limits, PageState, frames
from dlf.explore.share import Field
from dlf.fundamentals import playground as pg
from dlf.fundamentals.activations import NAMES

TAB = "classify"
TITLE = "Classification"
N_POINTS = 400
EXTENT = 7.0  # the plane shown is [-EXTENT, EXTENT]^2
GRID = 64
CLASS_COLORS = ("#e8710a", "#1f6fb4")  # class 0 orange, class 1 blue, as in TensorFlow Playground

FIELDS = (
    Field("dataset", "data set", "choice", "circle", choices=pg.DATASETS),
    Field("noise", "noise", "float", 0.05, 0.0, 0.5, 0.05, info="spread added to every point (x 5 units)"),
    Field("train_pct", "training points (%)", "int", 50, 10, 90, 10, info="the rest are test points"),
    Field("features", "input features", "multi", ("x1", "x2"), choices=tuple(pg.FEATURES)),
    Field("hidden", "hidden layers", "text", "4, 2", info=f"widths, e.g. '4, 2'; '0' for none (at most "
          f"{pg.MAX_LAYERS} layers of {pg.MAX_WIDTH})"),
    Field("activation", "activation", "choice", "tanh", choices=NAMES),
    Field("l2", "L2 regularisation", "choice", 0.0, choices=(0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)),
    Field("lr", "learning rate", "choice", 0.1, choices=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)),
    Field("batch", "batch size", "int", 10, 1, 50, 1),
    Field("seed", "seed", "int", 0, 0, 999, 1),
)
DATA_KEYS = ("dataset", "noise", "train_pct", "seed")
NET_KEYS = ("features", "hidden", "activation")


class CState(PageState):
    def __init__(self) -> None:
        super().__init__()
        self.net: pg.Playground | None = None
        self.key: tuple = ()
        self.train_curve, self.test_curve = Curve(), Curve()
        self.lr, self.l2, self.batch = 0.1, 0.0, 10


def _key(v: dict) -> tuple:
    return tuple(str(v[k]) for k in DATA_KEYS + NET_KEYS)


def ensure_net(state: CState, v: dict) -> None:
    """Give the session a network for these settings: a new one when the data or the architecture changed."""
    if state.net is not None and _key(v) == state.key:
        return
    x, y = pg.make_dataset(v["dataset"], N_POINTS, v["noise"], torch.Generator().manual_seed(v["seed"]))
    data = pg.split(x, y, v["train_pct"] / 100)
    state.net = pg.Playground(data, v["features"], pg.parse_hidden(v["hidden"]), v["activation"], seed=v["seed"])
    state.key = _key(v)
    state.train_curve, state.test_curve = Curve(), Curve()
    _record(state)


def _record(state: CState) -> None:
    train, test = state.net.losses()
    state.train_curve.add(state.net.epochs, train)
    state.test_curve.add(state.net.epochs, test)


def render(state: CState, note: str = "") -> tuple[str, str]:
    net = state.net
    if net is None:
        return svg.Figure(900, 460, uid="classify-fig").render(), note or "Press **Train**."
    train, test = state.train_curve.values[-1], state.test_curve.values[-1]
    fig = svg.Figure(900, 460, uid="classify-fig", data={"epoch": net.epochs, "step": net.steps,
                                                         "train-loss": f"{train:.6g}", "test-loss": f"{test:.6g}"})
    ax = fig.panel(45, 30, 400, 400, (-EXTENT, EXTENT), (-EXTENT, EXTENT), grid=False, xlabel="x1", ylabel="x2",
                   title="P(class 1 | x); filled: training points, ringed: test points")
    xs = np.linspace(-EXTENT, EXTENT, GRID)
    g1, g2 = np.meshgrid(xs, xs[::-1])  # row 0 is the top
    prob = net.probability(torch.from_numpy(np.stack([g1.ravel(), g2.ravel()], 1))).numpy().reshape(GRID, GRID)
    ax.image(_shade(prob), cls="boundary-image")
    ax.contour(xs, xs[::-1], prob, [0.5], color="black", width=1.5, cls="boundary")
    d = net.data
    for x, y, stroke, r in ((d.x_train, d.y_train, "white", 3.2), (d.x_test, d.y_test, "black", 3.2)):
        cols = [CLASS_COLORS[int(c)] for c in y.tolist()]
        ax.points(x[:, 0].numpy(), x[:, 1].numpy(), colors=cols, r=r, stroke=stroke)
    epochs = np.array(state.train_curve.steps, dtype=float)
    both = np.array(state.train_curve.values + state.test_curve.values)
    curve = fig.panel(540, 30, 340, 400, (0, max(net.epochs, 1)), (0, max(float(np.nanmax(both)) * 1.1, 0.1)),
                      xlabel="epoch", title="loss (binary cross-entropy)")
    curve.line(epochs, np.array(state.train_curve.values), color=svg.BLUE, width=2, cls="train-loss")
    curve.line(epochs, np.array(state.test_curve.values), color=svg.RED, width=2, dash="5 3", cls="test-loss")
    curve.legend([("training", svg.BLUE), ("test", svg.RED)], dash={"test": "5 3"})
    acc_train, acc_test = net.accuracy()
    rate = state.rate.per_second()
    parts = [f"epoch **{net.epochs}**", f"step {net.steps:,}", f"training loss **{train:.4f}**",
             f"test loss **{test:.4f}**", f"accuracy {100 * acc_train:.0f}% / {100 * acc_test:.0f}% (train / test)",
             f"{rate:.1f} updates/s" if rate else "", note]
    return fig.render(), " · ".join(p for p in parts if p)


def _shade(prob: np.ndarray) -> np.ndarray:
    """Orange where P(class 1) is near 0, blue near 1, white at 1/2: (H, W) -> (H, W, 3) uint8."""
    colours = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in CLASS_COLORS], dtype=np.float64)
    side = np.where(prob[..., None] >= 0.5, colours[1], colours[0])  # (H, W, 3)
    strength = 0.6 * np.abs(2 * prob[..., None] - 1)  # 0 at p = 1/2
    return (255 + strength * (side - 255)).round().astype(np.uint8)


def train_frames(state: CState, v: dict, limits: Limits):
    state.lr, state.l2, state.batch = float(v["lr"]), float(v["l2"]), int(v["batch"])
    try:
        with state.lock:
            ensure_net(state, v)
    except DlfError as exc:
        yield render(state, f"⚠ {exc}")
        return

    def train(deadline: float, steps_left: int) -> int:
        before = state.net.steps
        while True:  # whole epochs: a few milliseconds each for 400 points
            state.net.train(1, state.lr, state.l2, state.batch)
            if state.net.diverged:
                return -1
            if time.perf_counter() >= deadline or state.net.steps - before >= steps_left:
                break
        _record(state)
        return state.net.steps - before

    def draw(reason: str) -> tuple[str, str]:
        with state.lock:
            return render(state, f"{reason}; press Train to go on" if reason else "training")

    yield from frames(state, limits, train, draw)


def reset(state: CState, v: dict) -> tuple[str, str]:
    state.stop.set()
    with state.lock:
        state.net, state.key = None, ()
        try:
            ensure_net(state, v)
        except DlfError as exc:
            return render(state, f"⚠ {exc}")
        return render(state, "ready: press Train")


def build(limits: Limits) -> dict:
    import gradio as gr

    from dlf.explore import widgets

    state = gr.State(CState)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            with gr.Row():
                train_b = gr.Button("Train", variant="primary", elem_id=f"{TAB}-train", min_width=80)
                stop_b = gr.Button("Stop", elem_id=f"{TAB}-stop", min_width=80)
                reset_b = gr.Button("Reset", elem_id=f"{TAB}-reset", min_width=80)
            comps = widgets.controls(TAB, FIELDS)
        with gr.Column(scale=3):
            status = widgets.status_box(TAB)
            fig = widgets.plot(TAB)
    widgets.link_row(TAB, FIELDS, comps)
    inputs, outputs = {state, *comps}, [fig, status]

    def values(data: dict) -> dict:
        return widgets.read(FIELDS, comps, data)

    def on_train(data: dict):
        yield from train_frames(data[state], values(data), limits)

    def on_reset(data: dict) -> tuple[str, str]:
        return reset(data[state], values(data))

    def on_tune(data: dict) -> None:
        v, s = values(data), data[state]
        s.lr, s.l2, s.batch = float(v["lr"]), float(v["l2"]), int(v["batch"])

    train_ev = train_b.click(on_train, inputs, outputs, api_name=f"{TAB}_train", concurrency_limit=limits.max_training,
                             concurrency_id="train", **widgets.QUIET)
    stop_b.click(lambda s: s.stop.set(), state, None, api_name=f"{TAB}_stop", queue=False)
    reset_b.click(on_reset, inputs, outputs, api_name=f"{TAB}_reset", **widgets.QUIET)
    by_name = dict(zip((f.name for f in FIELDS), comps))
    for name in DATA_KEYS + NET_KEYS:
        event = by_name[name].submit if name == "hidden" else by_name[name].input
        event(on_reset, inputs, outputs, api_name=False, **widgets.LIVE)
    for name in ("lr", "l2", "batch"):
        by_name[name].input(on_tune, inputs, None, api_name=False, **widgets.LIVE)
    return {"fields": FIELDS, "comps": comps, "refresh": (on_reset, inputs, outputs), "events": (train_ev,)}
