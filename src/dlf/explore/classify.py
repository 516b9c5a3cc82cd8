"""Explorer page "Classification": TensorFlow Playground's playground, with PyTorch behind it.

Pick a data set (four to classify, two to regress), its noise and train/test split, the input features, the
hidden layers (a text box, or + and - buttons), the activation (linear too), L1 and L2 strengths, and train or
take a single step. The figure shows every unit as a small heatmap of what it computes over the plane (inputs,
hidden neurons, output), the weights as lines between them (thickness: |w|, blue: w > 0, orange: w < 0; hover
one to read it, click it to edit it), the output over the plane with the points, and the train and test loss.
The data sets, features, network, loss and training are dlf.fundamentals.playground.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from dlf.errors import DlfError
from dlf.explore import svg
from dlf.explore.netdraw import CLASS_COLORS, CLICK_JS, EXTENT, NET_LEFT, network_svg, plane_grid, shade, signed
from dlf.explore.session import Curve, Limits, PageState, frames
from dlf.explore.share import Field
from dlf.fundamentals import playground as pg

TAB = "classify"
TITLE = "Classification"
N_POINTS = 400
GRID = 64  # output heatmap
REGS = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)

FIELDS = (
    Field("dataset", "data set", "choice", "circle", choices=pg.DATASETS,
          info="plane and multi-gauss are regression: the network fits a value"),
    Field("noise", "noise", "float", 0.05, 0.0, 0.5, 0.05, info="spread added to every point (x 5 units)"),
    Field("train_pct", "training points (%)", "int", 50, 10, 90, 10, info="the rest are test points"),
    Field("features", "input features", "multi", ("x1", "x2"), choices=tuple(pg.FEATURES)),
    Field("hidden", "hidden layers", "text", "4, 2", info=f"widths, e.g. '4, 2'; '0' for none (at most "
          f"{pg.MAX_LAYERS} layers of {pg.MAX_WIDTH}); or the + and - buttons", max_len=60),
    Field("activation", "activation", "choice", "tanh", choices=pg.ACTIVATIONS),
    Field("l1", "L1 regularisation", "choice", 0.0, choices=REGS),
    Field("l2", "L2 regularisation", "choice", 0.0, choices=REGS),
    Field("lr", "learning rate", "choice", 0.1, choices=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)),
    Field("batch", "batch size", "int", 10, 1, 50, 1),
    Field("discretize", "discretise output", "bool", False, info="show the output as two colours only"),
    Field("seed", "seed", "int", 0, 0, 999, 1),
)
DATA_KEYS = ("dataset", "noise", "train_pct", "seed")
NET_KEYS = ("features", "hidden", "activation")
TUNE_KEYS = ("lr", "l1", "l2", "batch", "discretize")
class CState(PageState):
    def __init__(self) -> None:
        super().__init__()
        self.net: pg.Playground | None = None
        self.key: tuple = ()
        self.train_curve, self.test_curve = Curve(), Curve()
        self.tune = {"lr": 0.1, "l1": 0.0, "l2": 0.0, "batch": 10, "discretize": False}


def _key(v: dict) -> tuple:
    return tuple(str(v[k]) for k in DATA_KEYS + NET_KEYS)


def ensure_net(state: CState, v: dict) -> None:
    """Give the session a network for these settings: a new one when the data or the architecture changed."""
    if state.net is not None and _key(v) == state.key:
        return
    x, y = pg.make_dataset(v["dataset"], N_POINTS, v["noise"], torch.Generator().manual_seed(v["seed"]))
    data = pg.split(x, y, v["train_pct"] / 100)
    state.net = pg.Playground(data, v["features"], pg.parse_hidden(v["hidden"]), v["activation"], seed=v["seed"],
                              regression=v["dataset"] in pg.REGRESSION)
    state.key = _key(v)
    state.train_curve, state.test_curve = Curve(), Curve()
    _record(state)


def _record(state: CState) -> None:
    train, test = state.net.losses()
    state.train_curve.add(state.net.steps, train)
    state.test_curve.add(state.net.steps, test)


def render(state: CState, note: str = "") -> tuple[str, str]:
    net = state.net
    if net is None:
        return svg.Figure(900, 560, uid="classify-fig").render(), note or "Press **Train**."
    train, test = state.train_curve.values[-1], state.test_curve.values[-1]
    discrete = bool(state.tune["discretize"])
    fig = svg.Figure(900, 560, uid="classify-fig", data={
        "epoch": net.epochs, "step": net.steps, "train-loss": f"{train:.6g}", "test-loss": f"{test:.6g}",
        "hidden": ",".join(map(str, net.sizes[1:-1])), "discretize": int(discrete), "weights": len(net.sizes) - 1})
    fig.text(NET_LEFT, 14, "features → hidden layers → output; hover a weight to read it, click it to edit it",
             size=11)
    fig.extra.append('<text class="hover-readout" x="330" y="14" font-size="11" fill="#333"></text>')
    fig.extra.append(network_svg(net, discrete))
    xs, points = plane_grid(GRID)
    out = signed(net.probability(points), net.regression).reshape(GRID, GRID)
    ax = fig.panel(560, 30, 320, 320, (-EXTENT, EXTENT), (-EXTENT, EXTENT), grid=False,
                   title="output; filled: training, ringed: test points")
    ax.image(shade(out, discrete), cls="boundary-image")
    if not net.regression:
        ax.contour(xs, xs[::-1], out, [0.0], color="black", width=1.5, cls="boundary")
    d = net.data
    for x, y, stroke in ((d.x_train, d.y_train, "white"), (d.x_test, d.y_test, "black")):
        vals = y.numpy() if net.regression else 2 * y.numpy() - 1
        if net.regression:
            cols = ["#{:02x}{:02x}{:02x}".format(*c) for c in shade(vals).tolist()]
        else:
            cols = [CLASS_COLORS[int(c > 0)] for c in vals.tolist()]
        ax.points(x[:, 0].numpy(), x[:, 1].numpy(), colors=cols, r=3.2, stroke=stroke)
    steps = np.array(state.train_curve.steps, dtype=float)
    both = np.array(state.train_curve.values + state.test_curve.values)
    curve = fig.panel(560, 400, 320, 130, (0, max(net.steps, 1)), (0, max(float(np.nanmax(both)) * 1.1, 0.1)),
                      xlabel="step", title="loss (" + ("mean squared error)" if net.regression else "cross-entropy)"))
    curve.line(steps, np.array(state.train_curve.values), color=svg.BLUE, width=2, cls="train-loss")
    curve.line(steps, np.array(state.test_curve.values), color=svg.RED, width=2, dash="5 3", cls="test-loss")
    curve.legend([("training", svg.BLUE), ("test", svg.RED)], dash={"test": "5 3"})
    return fig.render(), _status(state, train, test, note)


def _status(state: CState, train: float, test: float, note: str) -> str:
    net = state.net
    rate = state.rate.per_second() if note == "training" else 0.0  # the rate only while training runs
    acc = net.accuracy()
    parts = [f"epoch **{net.epochs}**", f"step {net.steps:,}", f"training loss **{train:.4f}**",
             f"test loss **{test:.4f}**",
             "" if net.regression else f"accuracy {100 * acc[0]:.0f}% / {100 * acc[1]:.0f}% (train / test)",
             f"{rate:.1f} updates/s" if rate else "", note]
    return " · ".join(p for p in parts if p)


def _tune(state: CState, v: dict) -> None:
    state.tune = {k: v[k] for k in TUNE_KEYS}


def train_frames(state: CState, v: dict, limits: Limits):
    _tune(state, v)
    try:
        with state.lock:
            ensure_net(state, v)
    except DlfError as exc:
        yield render(state, f"⚠ {exc}")
        return

    def train(deadline: float, steps_left: int) -> int:
        before, t = state.net.steps, state.tune
        while True:  # whole epochs: a few milliseconds each for 400 points
            state.net.train(1, float(t["lr"]), float(t["l2"]), int(t["batch"]), l1=float(t["l1"]))
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
    """A fresh network for the settings; a bad setting keeps the network (and so the figure) as it was."""
    state.stop.set()
    _tune(state, v)
    with state.lock:
        before = state.net, state.key, state.train_curve, state.test_curve
        state.net, state.key = None, ()
        try:
            ensure_net(state, v)
        except DlfError as exc:
            state.net, state.key, state.train_curve, state.test_curve = before
            return render(state, f"⚠ {exc}")
        return render(state, "ready: press Train or Step")


def step(state: CState, v: dict) -> tuple[str, str]:
    """One gradient step on one batch (the session's training, if running, stops first)."""
    state.stop.set()
    _tune(state, v)
    with state.lock:
        try:
            ensure_net(state, v)
            t = state.tune
            state.net.step(float(t["lr"]), float(t["l2"]), int(t["batch"]), l1=float(t["l1"]))
        except DlfError as exc:
            return render(state, f"⚠ {exc}")
        _record(state)
        return render(state, "one step taken")


def resize(hidden: str, cmd: str) -> str:
    """The hidden-layer text after a + or - press: 'layer+', 'layer-', 'n+ <layer>' or 'n- <layer>'."""
    widths = list(pg.parse_hidden(hidden))
    if cmd == "layer+" and len(widths) < pg.MAX_LAYERS:
        widths.append(widths[-1] if widths else 2)
    elif cmd == "layer-" and widths:
        widths.pop()
    elif cmd[:2] in ("n+", "n-") and cmd[3:].isdigit() and 1 <= int(cmd[3:]) <= len(widths):
        k = int(cmd[3:]) - 1
        widths[k] = min(max(widths[k] + (1 if cmd[1] == "+" else -1), 1), pg.MAX_WIDTH)
    return ", ".join(map(str, widths)) or "0"


def set_weight(state: CState, v: dict, where: str, value: float | None) -> tuple[str, str]:
    """Set the weight named 'layer to from' (as a click on it fills in) to `value`, and redraw."""
    with state.lock:
        try:
            ensure_net(state, v)
            parts = where.split()
            if len(parts) != 3 or not all(p.isdigit() for p in parts):
                raise DlfError("click a weight in the figure first (it fills in which weight to set)")
            if value is None:
                raise DlfError("type the new value of the weight, a number between -100 and 100")
            layer, to, frm = map(int, parts)
            state.net.set_weight(layer, to, frm, float(value))
        except DlfError as exc:
            return render(state, f"⚠ {exc}")
        _record(state)
        return render(state, f"weight set to {float(value):g}")


def build(limits: Limits) -> dict:
    import gradio as gr

    from dlf.explore import widgets

    state = gr.State(CState)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            with gr.Row():
                train_b = gr.Button("Train", variant="primary", elem_id=f"{TAB}-train", min_width=70)
                stop_b = gr.Button("Stop", elem_id=f"{TAB}-stop", min_width=70)
                step_b = gr.Button("Step", elem_id=f"{TAB}-step", min_width=70)
                reset_b = gr.Button("Reset", elem_id=f"{TAB}-reset", min_width=70)
            comps = widgets.controls(TAB, FIELDS)
            with gr.Row():
                layer_add = gr.Button("+ layer", size="sm", elem_id=f"{TAB}-layer-add", min_width=60)
                layer_del = gr.Button("\u2212 layer", size="sm", elem_id=f"{TAB}-layer-remove", min_width=60)
            with gr.Row():
                weight_at = gr.Textbox(label="weight (layer, to, from)", interactive=False, elem_id=f"{TAB}-weight",
                                       placeholder="click a weight in the figure", max_lines=1)
                weight_val = gr.Number(label="its value", elem_id=f"{TAB}-weight-value", minimum=-100, maximum=100)
            weight_b = gr.Button("Set weight", size="sm", elem_id=f"{TAB}-weight-set")
        with gr.Column(scale=3):
            status = widgets.status_box(TAB)
            fig = gr.HTML(elem_id=f"{TAB}-plot", js_on_load=CLICK_JS)
    widgets.link_row(TAB, FIELDS, comps)
    by_name = dict(zip((f.name for f in FIELDS), comps))
    inputs, outputs = {state, *comps}, [fig, status]

    def values(data: dict) -> dict:
        return widgets.read(FIELDS, comps, data)

    def on_train(data: dict):
        yield from train_frames(data[state], values(data), limits)

    def on_resize(data: dict, cmd: str) -> tuple:
        v = values(data)
        try:
            v["hidden"] = resize(v["hidden"], cmd)
        except DlfError as exc:
            return (*render(data[state], f"⚠ {exc}"), gr.update())
        return (*reset(data[state], v), v["hidden"])

    def on_click(data: dict, evt: gr.EventData) -> tuple:
        cmd = str((evt._data or {}).get("cmd", ""))[:20]
        if cmd.startswith("w "):
            s, where = data[state], cmd[2:]
            layer, to, frm = map(int, where.split())
            with s.lock:
                w = float(s.net.params[2 * (layer - 1)][to, frm]) if s.net else None
            note = f"weight from unit {frm + 1} to unit {to + 1} of layer {layer}: edit its value, press Set weight"
            return (gr.update(), note, gr.update(), where, w)
        if cmd[:2] in ("n+", "n-"):
            return (*on_resize(data, cmd), gr.update(), gr.update())
        return (gr.update(),) * 5

    on_click.__annotations__["evt"] = gr.EventData  # resolved, so that gradio sees where the click data goes
    def on_tune(data: dict) -> tuple[str, str]:
        v, s = values(data), data[state]
        _tune(s, v)
        with s.lock:
            return render(s, "settings changed") if s.net is not None else (gr.update(), gr.update())

    hidden = by_name["hidden"]
    train_ev = train_b.click(on_train, inputs, outputs, api_visibility="private", concurrency_limit=limits.max_training,
                             concurrency_id="train", **widgets.QUIET)
    stop_b.click(lambda s: s.stop.set(), state, None, api_visibility="private", queue=False)
    step_b.click(lambda d: step(d[state], values(d)), inputs, outputs, api_visibility="private", **widgets.QUIET)
    reset_b.click(lambda d: reset(d[state], values(d)), inputs, outputs, api_visibility="private", **widgets.QUIET)
    for button, cmd in ((layer_add, "layer+"), (layer_del, "layer-")):
        button.click(lambda d, c=cmd: on_resize(d, c), inputs, [*outputs, hidden], api_visibility="private",
                     **widgets.QUIET)
    fig.click(on_click, inputs, [*outputs, hidden, weight_at, weight_val], api_visibility="private", **widgets.QUIET)
    weight_b.click(lambda d: set_weight(d[state], values(d), d[weight_at], d[weight_val]),
                   {*inputs, weight_at, weight_val}, outputs, api_visibility="private", **widgets.QUIET)
    for name in DATA_KEYS + NET_KEYS:
        event = by_name[name].submit if name == "hidden" else by_name[name].input
        event(lambda d: reset(d[state], values(d)), inputs, outputs, api_visibility="private", **widgets.LIVE)
    for name in TUNE_KEYS:
        by_name[name].input(on_tune, inputs, outputs, api_visibility="private", **widgets.LIVE)
    refresh = (lambda d: reset(d[state], values(d)), inputs, outputs)
    return {"fields": FIELDS, "comps": comps, "refresh": refresh, "events": (train_ev,)}
