"""Explorer page "Classification": TensorFlow Playground's playground, with PyTorch behind it.

Pick a data set (four to classify, two to regress), its noise and train/test split, the input features, the
hidden layers (a text box, or + and - buttons), the activation (linear too), L1 and L2 strengths, and train or
take a single step. The figure shows every unit as a small heatmap of what it computes over the plane (inputs,
hidden neurons, output), the weights as lines between them (thickness: |w|, blue: w > 0, orange: w < 0; hover
one to read it, click it to edit it), the output over the plane with the points, and the train and test loss.
The data sets, features, network, loss and training are dlf.fundamentals.playground; dlf.explore.playfit trains
it live, a step at a time, and several sessions' networks of one shape at once. Train runs in a worker process
(dlf.explore.workers) and its frames go by the press's own stream as patches of the figure that the page draws
(dlf.explore.classfig), as on the Universality page.
"""

from __future__ import annotations

import math

import torch

from dlf.errors import DlfError
from dlf.explore import stream
from dlf.explore.classfig import live_frame, render
from dlf.explore.netdraw import CLICK_JS
from dlf.explore.playfit import LivePlay, train_together
from dlf.explore.session import KEEP, Limits, PageState, budgeted_turn, frames, pool_frames
from dlf.explore.share import Field
from dlf.fundamentals import playground as pg

TAB = "classify"
TITLE = "Classification"
N_POINTS = 400
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
        self.live: LivePlay | None = None
        self.key: tuple = ()
        self.tune = {"lr": 0.1, "l1": 0.0, "l2": 0.0, "batch": 10, "discretize": False}

    @property
    def net(self) -> pg.Playground | None:
        return self.live.net if self.live is not None else None


def _key(v: dict) -> tuple:
    return tuple(str(v[k]) for k in DATA_KEYS + NET_KEYS)


def ensure_net(state: CState, v: dict) -> None:
    """Give the session a network for these settings: a new one when the data or the architecture changed."""
    if state.live is not None and _key(v) == state.key:
        return
    x, y = pg.make_dataset(v["dataset"], N_POINTS, v["noise"], torch.Generator().manual_seed(v["seed"]))
    data = pg.split(x, y, v["train_pct"] / 100)
    net = pg.Playground(data, v["features"], pg.parse_hidden(v["hidden"]), v["activation"], seed=v["seed"],
                        regression=v["dataset"] in pg.REGRESSION)
    state.live, state.key = LivePlay(net), _key(v)


def _tune(state: CState, v: dict) -> None:
    state.tune = {k: v[k] for k in TUNE_KEYS}


def _train(lives: list[LivePlay], tunes: list[dict], deadline: float, steps_left: int) -> list[int]:
    """playfit.train_together with each network's own learning rate and penalties (one batch size for all)."""
    return train_together(lives, deadline, steps_left, [float(t["lr"]) for t in tunes],
                          [float(t["l2"]) for t in tunes], [float(t["l1"]) for t in tunes], int(tunes[0]["batch"]))


class ClassifyJob:
    """One press of Train as a worker process runs it (dlf.explore.workers): its network, settings and budget."""

    def __init__(self, state: CState, limits: Limits):
        self.live, self.settings, self.key = state.live, dict(state.tune), state.key
        self.limits, self.budget, self._view, self._sent = limits, None, None, {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_view": None}

    def tune(self, **settings) -> None:
        self.settings.update(settings)

    def group(self) -> tuple:
        """Jobs of one group train together (playfit.train_together): networks of one shape and batch size."""
        return self.live.shape(), int(self.settings["batch"])

    def advance(self, deadline: float) -> str:
        """Train until `deadline` (perf_counter time); '' while the press may go on, else why it ended."""
        return ClassifyJob.advance_together([self], deadline)[0]

    @staticmethod
    def advance_together(jobs: list[ClassifyJob], deadline: float) -> list[str]:
        """`advance` for jobs of one group at once (playfit.train_together); each one's reason."""
        return budgeted_turn(jobs, deadline, lambda end, steps_left: _train(
            [job.live for job in jobs], [job.settings for job in jobs], end, steps_left))

    def draw(self, note: str) -> tuple[str, str]:
        if self._view is None:
            self._view = CState()
        view = self._view
        view.live, view.tune, view.key = self.live, self.settings, self.key
        if note == "training":
            view.rate.tick()
        return live_frame(view, note, self._sent)  # a patch of the figure shown, or the whole figure


def train_frames(state: CState, v: dict, limits: Limits, pool=None, session: str | None = None):
    """The frames of one press of Train: in this thread, or in a worker process of `pool` (dlf.explore.workers).

    With a pool, gradio session `session` and the stream routes served, the frames go by the press's own stream
    (dlf.explore.stream.streamed), as the Universality page's do.
    """
    _tune(state, v)
    try:
        with state.lock:
            ensure_net(state, v)
    except DlfError as exc:
        yield render(state, f"⚠ {exc}")
        return
    if pool is not None and session is not None and stream.attached():
        yield from stream.streamed(state, lambda abandoned: _pool_frames(state, limits, pool, abandoned), session)
        return
    if pool is not None:
        yield from (frame for frame, _ in _pool_frames(state, limits, pool))
        return

    def train(deadline: float, steps_left: int) -> int:
        return _train([state.live], [state.tune], deadline, steps_left)[0]

    def draw(reason: str) -> tuple[str, str]:
        with state.lock:
            return render(state, f"{reason}; press Train to go on" if reason else "training")

    yield from frames(state, limits, train, draw)


def _pool_frames(state: CState, limits: Limits, pool, abandoned=lambda: False):
    def adopt(done: ClassifyJob) -> None:
        state.live = done.live

    return pool_frames(state, lambda: ClassifyJob(state, limits), adopt, pool, lambda: dict(state.tune), abandoned)


def _halt(state: CState) -> None:
    """Stop the session's training; a worker that holds its network hands it back first."""
    state.stop.set()
    state.idle.wait(5.0)


def _changed(state: CState) -> None:
    """The network changed by hand (under the lock): a press of Train that ends now does not bring back its own."""
    state.version, state.final = state.version + 1, None


def reset(state: CState, v: dict) -> tuple[str, str]:
    """A fresh network for the settings; a bad setting keeps the network (and so the figure) as it was."""
    _halt(state)
    _tune(state, v)
    with state.lock:
        before = state.live, state.key
        state.live, state.key = None, ()
        try:
            ensure_net(state, v)
        except DlfError as exc:
            state.live, state.key = before
            return render(state, f"⚠ {exc}")
        _changed(state)
        return render(state, "ready: press Train or Step")


def step(state: CState, v: dict) -> tuple[str, str]:
    """One gradient step on the next mini-batch (the session's training, if running, stops first)."""
    _halt(state)
    _tune(state, v)
    with state.lock:
        try:
            ensure_net(state, v)
            diverged = _train([state.live], [state.tune], math.inf, 1)[0] < 0
            state.live.update()
            if diverged:
                return render(state, "diverged: lower the learning rate and press Reset")
        except DlfError as exc:
            return render(state, f"⚠ {exc}")
        _changed(state)
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
    _halt(state)
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
        state.live.record()
        _changed(state)
        return render(state, f"weight set to {float(value):g}")


def build(limits: Limits) -> dict:
    import gradio as gr

    from dlf.explore import widgets, workers

    state = gr.State(CState)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            with gr.Row():
                train_b = gr.Button("Train", variant="primary", elem_id=f"{TAB}-train", min_width=70)
                stop_b = gr.Button("Stop", elem_id=f"{TAB}-stop", min_width=70)
                step_b = gr.Button("Step", elem_id=f"{TAB}-step", min_width=70)
                reset_b = gr.Button("Reset", elem_id=f"{TAB}-reset", min_width=70)
            # pressed by the figure's script when a training stream ends: the last figure and status from gradio
            finish_b = gr.Button("finish", elem_id=f"{TAB}-finish", visible="hidden")
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
            fig = widgets.live_plot(TAB, CLICK_JS)  # training frames patch it in the browser (classfig.live_frame)
    widgets.link_row(TAB, FIELDS, comps)
    by_name = dict(zip((f.name for f in FIELDS), comps))
    inputs, outputs = {state, *comps}, [fig, status]

    def values(data: dict) -> dict:
        return widgets.read(FIELDS, comps, data)

    def shown(frame: tuple) -> tuple:
        return tuple(gr.update() if part is KEEP else part for part in frame)

    def on_train(data: dict):
        for frame in train_frames(data[state], values(data), limits, workers.current(), stream.session_hash()):
            yield shown(frame)

    def on_resize(data: dict, cmd: str) -> tuple:
        v = values(data)
        try:
            v["hidden"] = resize(v["hidden"], cmd)
        except DlfError as exc:
            return (*shown((KEEP, f"⚠ {exc}")), gr.update())
        return (*reset(data[state], v), v["hidden"])

    def on_click(data: dict, evt: gr.EventData) -> tuple:
        cmd = str((evt._data or {}).get("cmd", ""))[:20]
        if cmd.startswith("w "):
            where = cmd[2:]
            layer, to, frm = map(int, where.split())
            try:  # the value shown in the page (the network may be training in a worker)
                w = min(max(float(str((evt._data or {}).get("w", ""))[:30]), -100.0), 100.0)
            except ValueError:
                w = None
            note = f"weight from unit {frm + 1} to unit {to + 1} of layer {layer}: edit its value, press Set weight"
            return (gr.update(), note, gr.update(), where, w)
        if cmd[:2] in ("n+", "n-"):
            return (*on_resize(data, cmd), gr.update(), gr.update())
        return (gr.update(),) * 5

    on_click.__annotations__["evt"] = gr.EventData  # resolved, so that gradio sees where the click data goes

    def on_tune(data: dict) -> tuple:
        v, s = values(data), data[state]
        _tune(s, v)
        if not s.idle.is_set():  # a worker trains the network: it takes the settings at its next frame
            s.tuned = True
            return gr.update(), gr.update()
        with s.lock:
            return render(s, "settings changed") if s.live is not None else (gr.update(), gr.update())

    hidden = by_name["hidden"]
    run = {"concurrency_limit": limits.max_training, "concurrency_id": "train", "api_visibility": "private",
           **widgets.QUIET}
    train_ev = train_b.click(on_train, inputs, outputs, **run)
    stop_b.click(lambda s: s.stop.set(), state, None, api_visibility="private", queue=False)
    finish_b.click(lambda s: shown(stream.finish(s)), state, outputs, queue=False, api_visibility="private",
                   **widgets.QUIET)
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
