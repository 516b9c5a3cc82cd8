"""Per-session state, and the bounds on the work one session may ask of the server.

Every browser tab is its own gradio session, and every page keeps its state (a network, its optimiser, the
error curve) in a `gr.State`, so two tabs train independently. gradio deep-copies a State's initial value for
each new session; `PageState.__deepcopy__` hands out a fresh, empty state instead.

Bounds, so that one user cannot starve the others (see `Limits`):
- a network has at most `max_width` hidden units;
- one press of Train runs until Stop, or until it has taken `max_steps` optimiser steps or `max_seconds`;
- at most `max_training` presses run at once over all sessions (more are refused with a message), and the server
  computes with one torch thread, so each press is one Python thread sharing the cores fairly;
- between two updates of the page a session trains for `frame_seconds`, then draws: about 1 / frame_seconds
  updates a second while the machine has time to spare.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one session may use; the server's defaults suit a laptop serving a handful of tabs."""

    max_width: int = 512
    """Most hidden units in the universality playground."""
    max_steps: int = 200_000
    """Most optimiser steps in one press of Train."""
    max_seconds: float = 60.0
    """Longest one press of Train runs, in seconds."""
    frame_seconds: float = 0.04
    """Training time between two updates of the page, in seconds."""
    max_training: int = 24
    """Train presses that run at once over all sessions; more are refused with a message (see dlf.explore.stream)."""
    max_queue: int = 200
    """Events waiting in the queue before new ones are refused."""
    max_sessions: int = 500
    """Sessions whose state the server keeps (the oldest are dropped)."""
    workers: int = 2
    """Worker processes that train (dlf.explore.workers); 0 trains in the web process's threads."""


class Budget:
    """What is left of one press of Train: steps and seconds."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.start = time.perf_counter()
        self.steps = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def frame_end(self) -> float:
        """When the current frame's training must stop (perf_counter time)."""
        return min(time.perf_counter() + self.limits.frame_seconds, self.start + self.limits.max_seconds)

    def steps_left(self) -> int:
        return max(self.limits.max_steps - self.steps, 0)

    def exhausted(self) -> str:
        """'' while work is allowed, else why it ended."""
        if self.steps >= self.limits.max_steps:
            return f"step limit ({self.limits.max_steps:,} steps per press)"
        if self.elapsed() >= self.limits.max_seconds:
            return f"time limit ({self.limits.max_seconds:g} s per press)"
        return ""


def budgeted_turn(jobs: list, deadline: float, train: Callable[[float, int], list[int]]) -> list[str]:
    """A worker's turn for jobs that train together, within each one's `Budget` (made at its first turn).

    Each job has `limits` and `budget`. `train(end, steps_left)` trains them all until perf_counter() reaches
    `end` (the deadline, or an earlier end of a press's time) or for at most `steps_left` steps, and returns
    each one's steps (-1: diverged). Returns each job's reason to end ('' while it may go on).
    """
    for job in jobs:
        if job.budget is None:
            job.budget = Budget(job.limits)
    end = min([deadline] + [job.budget.start + job.limits.max_seconds for job in jobs])
    took = train(end, min(job.budget.steps_left() for job in jobs))
    reasons = []
    for job, n in zip(jobs, took):
        if n < 0:
            reasons.append("diverged")
        else:
            job.budget.steps += n
            reasons.append(job.budget.exhausted())
    return reasons


class Rate:
    """Updates per second over the last `window` updates."""

    def __init__(self, window: int = 40):
        self.times: deque[float] = deque(maxlen=window)

    def tick(self) -> None:
        self.times.append(time.perf_counter())

    def reset(self) -> None:
        self.times.clear()

    def per_second(self) -> float:
        if len(self.times) < 2:
            return 0.0
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0


class Curve:
    """A growing series of (step, value) kept under `cap` points: when full, every other point is dropped."""

    def __init__(self, cap: int = 4000):
        self.cap = cap
        self.steps: list[int] = []
        self.values: list[float] = []

    def add(self, step: int, value: float) -> None:
        self.steps.append(step)
        self.values.append(value)
        if len(self.steps) > self.cap:
            self.steps, self.values = self.steps[::2], self.values[::2]

    def __len__(self) -> int:
        return len(self.steps)


class PageState:
    """Base of a page's per-session state: a lock around its model, a stop flag and an update-rate meter.

    One session runs one job at a time: `begin()` starts a job and ends the one before it (a second Train press
    sent by a script, say), so a session never has two loops running.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.rate = Rate()
        self.job = 0
        # a press of Train whose network a worker process holds (see pool_frames)
        self.version = 0  # counts presses that replace the network (Reset, ...): a job returning after one is dropped
        self.idle = threading.Event()  # set while no worker holds the network
        self.idle.set()
        self.tuned = False  # settings changed while a worker trains (it is told at its next frame)
        self.final: tuple | None = None  # (figure, status) where the last streamed press of Train ended

    def __deepcopy__(self, memo: dict) -> PageState:
        return type(self)()

    def begin(self) -> int:
        """Start a job (its number); any job of this session still running ends at its next check."""
        with self.lock:
            self.job += 1
            self.stop.clear()
            return self.job

    def running(self, job: int) -> bool:
        return self.job == job and not self.stop.is_set()


def frames(state: PageState, limits: Limits, train: Callable[[float, int], int],
           draw: Callable[[str], tuple]) -> Iterator[tuple]:
    """The loop behind every Train button: train until the frame ends, draw, repeat; stop when asked or out of budget.

    `train(deadline, steps_left)` trains until perf_counter() reaches `deadline` (at least one step) and returns
    the steps it took, or -1 when training cannot go on (diverged); `draw(reason)` returns the page's outputs,
    with reason '' while training runs and the reason it ended on the last frame.
    """
    budget = Budget(limits)
    job = state.begin()
    state.rate.reset()
    while True:
        if not state.running(job):  # stopped between two frames: train no more
            yield draw("stopped")
            return
        with state.lock:
            took = train(budget.frame_end(), budget.steps_left())
        budget.steps += max(took, 0)
        state.rate.tick()
        reason = "stopped" if not state.running(job) else ("diverged" if took < 0 else budget.exhausted())
        yield draw(reason)
        if reason:
            return


KEEP = None
"""In place of the figure or the status in an answer: keep what is shown (the page turns it into gr.update())."""
STATUS_EVERY_S = 0.25  # while a worker trains, the status line changes at most this often (the figure every frame)


def pool_frames(state: PageState, make_job: Callable[[], object], adopt: Callable[[object], None], pool,
                settings: Callable[[], dict], abandoned: Callable[[], bool] = lambda: False
                ) -> Iterator[tuple[tuple, bool]]:
    """(frame, last) while a worker process of `pool` (dlf.explore.workers) trains the session's network.

    A job of this session still running stops first and hands its network back; then `make_job()` (under the
    state's lock) packs the network and settings for the worker. When the job ends, `adopt(job)` takes the
    trained network back, unless the network was replaced meanwhile (`state.version` moved on: a Reset). When
    the page sets `state.tuned`, the job's `tune` gets `settings()` at its next frame. The last frame says why
    the press ended; a frame whose status would change within STATUS_EVERY_S keeps the status shown (KEEP).
    """

    def poll() -> dict | None:
        if not state.tuned:
            return None
        state.tuned = False
        return settings()

    job_no = state.begin()
    state.idle.wait(5.0)
    with state.lock:
        job, version = make_job(), state.version
        state.idle.clear()
    said = -math.inf  # when the status line was last sent
    try:
        whole = lambda frame: frame[0].startswith("<")  # noqa: E731 - the patches after it need it in the page
        stopped = lambda: not state.running(job_no) or abandoned()  # noqa: E731
        for frame, done in pool.run(job, stopped, poll, keep=whole):
            if done is not None:
                with state.lock:
                    if state.version == version:  # no Reset meanwhile
                        adopt(done)
                state.idle.set()
            now = time.perf_counter()
            if done is None and not whole(frame) and now - said < STATUS_EVERY_S:
                frame = (frame[0], KEEP)  # the figure, not the text: the page re-renders less while training
            else:
                said = now
            yield frame, done is not None
    finally:
        state.idle.set()
