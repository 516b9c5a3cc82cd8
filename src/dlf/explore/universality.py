"""Explorer page "Universality": watch one hidden layer learn a target, unit by unit, live.

The network, its hidden units' contributions v_j act(w_j x + b_j) and the optimisers are
dlf.fundamentals.universality; targets are parsed by dlf.fundamentals.expr (never evaluated as Python).
dlf.explore.livefit's `LiveFit` trains it a few steps at a time from a random start, never letting the error
grow; Train runs it in a worker process (dlf.explore.workers), and the width sweep trains each width the same
way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

from dlf.errors import DlfError
from dlf.explore import stream
from dlf.explore.livefit import INTERVAL, LiveFit, measure, train_together
from dlf.explore.session import KEEP, Limits, PageState, budgeted_turn, frames, pool_frames
from dlf.explore.share import Field, page_words
from dlf.explore.unifig import SWEEP_STEPS, live_frame, render
from dlf.fundamentals import universality as uni
from dlf.fundamentals.activations import NAMES
from dlf.fundamentals.expr import Target, parse_target

TAB = "universality"
TITLE = "Universality"
SWEEP_WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

FIELDS = (
    Field("target", "target function", "choice", "sin", choices=(*uni.PRESETS, "custom"),
          info="a preset, or 'custom' to use the expression below"),
    Field("expr", "custom expression in x", "text", "sin(3*x) + 0.3*x**2",
          info="numbers, x, pi, e, + - * / **, sin, exp, abs, ... (press Enter)"),
    Field("activation", "activation", "choice", "tanh", choices=NAMES),
    Field("width", "hidden units", "int", 16, 1, 512, 1),
    Field("lr", "learning rate", "float", 0.01, 0.0005, 0.2, 0.0005, info="changes apply while training"),
    Field("optimizer", "optimiser", "choice", "adam", choices=uni.OPTIMIZERS, info="lbfgs ignores the learning rate"),
)


def target_of(v: dict) -> Target:
    """The parsed target of the settings: a preset, or the custom expression (ConfigError when it is bad)."""
    target = parse_target(v["expr"] if v["target"] == "custom" else v["target"])
    target.check_finite(INTERVAL)
    return target


class UState(PageState):
    def __init__(self) -> None:
        super().__init__()
        self.live: LiveFit | None = None
        self.key: tuple = ()
        self.lr, self.optimizer = 0.01, "adam"  # changed while a worker trains: `tuned` tells it at the next frame
        self.sweep: list[tuple[int, float, float]] = []  # (width, rms error, max error)


class TrainJob:
    """One press of Train as a worker process runs it (dlf.explore.workers): its network, settings and budget."""

    def __init__(self, state: UState, limits: Limits):
        self.live, self.sweep, self.lr, self.optimizer = state.live, list(state.sweep), state.lr, state.optimizer
        self.limits, self.budget, self._view, self._sent = limits, None, None, {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_view": None}

    def tune(self, lr: float, optimizer: str) -> None:
        self.lr, self.optimizer = lr, optimizer

    def advance(self, deadline: float) -> str:
        """Train until `deadline` (perf_counter time); '' while the press may go on, else why it ended."""
        return TrainJob.advance_together([self], deadline)[0]

    def group(self) -> tuple | None:
        """Jobs of the same group train together (dlf.explore.workers): networks of one activation trained by
        adam, or by sgd (lbfgs's line search is one network's), whose widths round up to the same power of two
        (each is padded to the widest, so at most twice its own width)."""
        if self.optimizer == "lbfgs":
            return None
        return 1 << (self.live.width - 1).bit_length(), self.live.activation, self.optimizer

    @staticmethod
    def advance_together(jobs: list[TrainJob], deadline: float) -> list[str]:
        """`advance` for jobs of one group at once (livefit.train_together); each one's reason."""
        def train(end: float, steps_left: int) -> list[int]:
            if len(jobs) == 1:  # LiveFit.train: adam and sgd by train_together too, lbfgs by torch's
                return [jobs[0].live.train(end, steps_left, jobs[0].lr, jobs[0].optimizer)]
            return train_together([job.live for job in jobs], end, steps_left, [job.lr for job in jobs],
                                  jobs[0].optimizer)

        return budgeted_turn(jobs, deadline, train)

    def draw(self, note: str) -> tuple[str, str]:
        if self._view is None:
            self._view = UState()
        view = self._view
        view.live, view.sweep = self.live, self.sweep
        if note == "training":
            view.rate.tick()
        return live_frame(view, note, self._sent)  # a patch of the figure shown, or the whole figure


def sweep(target: Target, activation: str, lr: float, optimizer: str, widths: tuple[int, ...],
          state: UState, limits: Limits) -> Iterator[tuple[int, float, float]]:
    """Train a fresh LiveFit of each width for SWEEP_STEPS steps, as Train does, and yield its errors.

    Same start (seed 0), same steps, same guard as the Train button: the sweep's point for the page's width is
    where Train gets after SWEEP_STEPS steps from Reset. Stops on Stop or at the time limit.
    """
    start = time.perf_counter()
    job = state.begin()
    for width in widths:
        if not state.running(job) or time.perf_counter() - start > limits.max_seconds:
            return
        live = LiveFit(target, width, activation)
        live.train(math.inf, SWEEP_STEPS, lr, optimizer)
        err = measure(live)
        yield width, err["rms_error"], err["max_error"]


# the page ----------------------------------------------------------------------------------------------------
def _key(v: dict, limits: Limits) -> tuple:
    return v["target"], v["expr"] if v["target"] == "custom" else "", v["activation"], min(v["width"], limits.max_width)


def ensure_live(state: UState, v: dict, limits: Limits) -> None:
    """Give the session a network for these settings (a new one when target, activation or width changed)."""
    key = _key(v, limits)
    if state.live is None or key != state.key:
        state.live, state.key = LiveFit(target_of(v), key[-1], v["activation"]), key


def _refused(exc: Exception | str) -> tuple[None, str]:
    """The answer to a bad setting: the figure stays as it was, the status says why, in the page's words."""
    return KEEP, f"⚠ {page_words(str(exc))}"


def train_frames(state: UState, v: dict, limits: Limits, problems: list[str] = (), pool=None,
                 session: str | None = None) -> Iterator[tuple]:
    """The frames of one press of Train: in this thread, or in a worker process of `pool` (dlf.explore.workers).

    With a pool, gradio session `session` and the stream routes served (dlf.explore.stream), the frames go by the
    press's own stream: the first answer is the stream's link, which the page follows, and the last the figure
    where training ended; the frames between them do not pass through gradio.
    """
    if problems:
        yield _refused(problems[0])
        return
    state.lr, state.optimizer = float(v["lr"]), v["optimizer"]
    try:
        with state.lock:
            ensure_live(state, v, limits)
    except DlfError as exc:
        yield _refused(exc)
        return
    if pool is not None and session is not None and stream.attached():
        yield from _streamed_frames(state, limits, pool, session)
        return
    if pool is not None:
        yield from (frame for frame, _ in _pool_frames(state, limits, pool))
        return

    def train(deadline: float, steps_left: int) -> int:
        return state.live.train(deadline, steps_left, state.lr, state.optimizer)

    def draw(reason: str) -> tuple[str, str]:
        with state.lock:
            return render(state, f"{reason}; press Train to go on" if reason else "training")

    yield from frames(state, limits, train, draw)


def _pool_frames(state: UState, limits: Limits, pool, abandoned=lambda: False) -> Iterator[tuple[tuple, bool]]:
    """(frame, last) while a worker process trains the session's network; the last frame says why it ended."""
    def adopt(done: TrainJob) -> None:
        state.live = done.live

    return pool_frames(state, lambda: TrainJob(state, limits), adopt, pool,
                       lambda: {"lr": state.lr, "optimizer": state.optimizer}, abandoned)


def _streamed_frames(state: UState, limits: Limits, pool, session: str) -> Iterator[tuple]:
    """A press of Train whose frames go by its own stream (dlf.explore.stream.streamed)."""
    return stream.streamed(state, lambda abandoned: _pool_frames(state, limits, pool, abandoned), session,
                           "training: step, error and rate under the figure")


def reset(state: UState, v: dict, limits: Limits, problems: list[str] = ()) -> tuple:
    """A fresh random network for the settings; a bad setting leaves the network and the figure as they were."""
    if problems:
        return _refused(problems[0])
    state.stop.set()
    with state.lock:
        try:
            live = LiveFit(target_of(v), min(int(v["width"]), limits.max_width), v["activation"])
        except DlfError as exc:
            return _refused(exc)
        state.live, state.key, state.sweep = live, _key(v, limits), []
        state.version, state.final = state.version + 1, None
        return render(state, "a random network: press Train, or Least-squares fit")


def least_squares(state: UState, v: dict, limits: Limits, problems: list[str] = ()) -> tuple:
    """Solve the output layer of the session's network by least squares (its hidden units stay as they are)."""
    if problems:
        return _refused(problems[0])
    state.stop.set()
    state.idle.wait(5.0)  # training in a worker hands its network back first
    with state.lock:
        try:
            ensure_live(state, v, limits)
        except DlfError as exc:
            return _refused(exc)
        state.live.solve_output()
        state.version, state.final = state.version + 1, None
        return render(state, "output layer solved by least squares; Train goes on from here and never spoils it")


def sweep_frames(state: UState, v: dict, limits: Limits, problems: list[str] = ()) -> Iterator[tuple]:
    try:
        if problems:
            raise DlfError(problems[0])
        target = target_of(v)
    except DlfError as exc:
        yield _refused(exc)
        return
    state.sweep = []
    widths = tuple(w for w in SWEEP_WIDTHS if w <= limits.max_width)
    for row in sweep(target, v["activation"], float(v["lr"]), v["optimizer"], widths, state, limits):
        state.sweep.append(row)
        with state.lock:  # never hold the lock across a yield
            frame = render(state, f"width sweep: {row[0]} hidden units done")
        yield frame
    with state.lock:
        frame = render(state, "width sweep done" if len(state.sweep) == len(widths) else "width sweep stopped")
    yield frame


def build(limits: Limits) -> dict:
    import gradio as gr

    from dlf.explore import widgets, workers

    state = gr.State(UState)
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            with gr.Row():
                train_b = gr.Button("Train", variant="primary", elem_id=f"{TAB}-train", min_width=80)
                stop_b = gr.Button("Stop", elem_id=f"{TAB}-stop", min_width=80)
            with gr.Row():
                reset_b = gr.Button("Reset", elem_id=f"{TAB}-reset", min_width=80)
                lsq_b = gr.Button("Least-squares fit", elem_id=f"{TAB}-lstsq", min_width=80)
                sweep_b = gr.Button("Width sweep", elem_id=f"{TAB}-sweep", min_width=80)
            # pressed by the figure's script when a training stream ends: the last figure and status from gradio
            finish_b = gr.Button("finish", elem_id=f"{TAB}-finish", visible="hidden")
            comps = widgets.controls(TAB, FIELDS)
        with gr.Column(scale=3):
            status = widgets.status_box(TAB)
            fig = widgets.live_plot(TAB)  # training frames patch it in the browser (unifig.live_frame)
    widgets.link_row(TAB, FIELDS, comps)
    inputs, outputs = {state, *comps}, [fig, status]

    def args(data: dict) -> tuple:
        problems: list[str] = []
        v = widgets.read(FIELDS, comps, data, problems)
        return data[state], v, limits, problems

    def shown(frame: tuple) -> tuple:
        return tuple(gr.update() if part is KEEP else part for part in frame)

    def on_train(data: dict):
        for frame in train_frames(*args(data), pool=workers.current(), session=stream.session_hash()):
            yield shown(frame)

    def on_sweep(data: dict):
        for frame in sweep_frames(*args(data)):
            yield shown(frame)

    def on_reset(data: dict) -> tuple:
        return shown(reset(*args(data)))

    def on_lsq(data: dict) -> tuple:
        return shown(least_squares(*args(data)))

    def on_tune(data: dict) -> None:
        s, v, _, _ = args(data)
        s.lr, s.optimizer, s.tuned = float(v["lr"]), v["optimizer"], True

    private = {"api_visibility": "private"}
    run = {"concurrency_limit": limits.max_training, "concurrency_id": "train", **private, **widgets.QUIET}
    train_ev = train_b.click(on_train, inputs, outputs, **run)
    sweep_ev = sweep_b.click(on_sweep, inputs, outputs, **run)
    stop_b.click(lambda s: s.stop.set(), state, None, queue=False, **private)
    finish_b.click(lambda s: shown(stream.finish(s)), state, outputs, queue=False, **private, **widgets.QUIET)
    reset_b.click(on_reset, inputs, outputs, **private, **widgets.QUIET)
    lsq_b.click(on_lsq, inputs, outputs, **private, **widgets.QUIET)
    by_name = dict(zip((f.name for f in FIELDS), comps))
    for name in ("target", "activation", "width"):
        by_name[name].input(on_reset, inputs, outputs, **private, **widgets.LIVE)
    by_name["expr"].submit(on_reset, inputs, outputs, **private, **widgets.QUIET)
    for name in ("lr", "optimizer"):
        by_name[name].input(on_tune, inputs, None, **private, **widgets.LIVE)
    return {"fields": FIELDS, "comps": comps, "refresh": (on_reset, inputs, outputs),
            "events": (train_ev, sweep_ev)}
