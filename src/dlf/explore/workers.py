"""Training in worker processes, shared fairly: a classroom of sessions training at once on a few cores.

gradio serves every session from one Python process, which computes on about one core (the GIL), and its
threads take turns by the clock, so a session training beside 19 others got almost no steps in. Here the
training runs in `processes` worker processes (multiprocessing, one torch thread each); the web process only
passes frames on. Each worker keeps its jobs in a round: every job in turn trains for one `slice_s` slice (2 ms;
longer when there are few, so that a round lasts at least frame_s / 8), and draws its figure at the turn
nearest to `frame_s` (70 ms: about 14 frames a second, what a page shows) after its last one, once it has
trained at least as long as a draw takes, so each of n jobs on a worker gets 1/n of it, at least half of that
for training, whatever the others do. Jobs of the same kind (`job.group()`: a classroom's networks of one
activation and optimiser, widths rounded up to a power of two) take their turn together, one slice for all,
and train in one batched step, which costs about twice a single one for ten networks: so each gets far more
than 1/n of what it would get alone. A new job goes to the worker with the fewest jobs, and of those to one
that has jobs of its group.

    pool = Pool(processes=2)                  # at server start
    for frame, done in pool.run(job, stopped):  # job: advance(deadline), draw(note), tune(**settings)
        yield frame                           # frames as the job's worker draws them; the last one says why
    pool.close()

A job is pickled to its worker and back (our own objects between our own processes; no user data is unpickled).
It has `advance(deadline) -> reason` (train until perf_counter() passes deadline; '' while it may go on, else why
it ended), `draw(note) -> frame` and `tune(**settings)`; the finished job comes back in the last message. It may
have `group() -> key or None` and `type(job).advance_together(jobs, deadline) -> [reason, ...]` for jobs of one key.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any


def _worker(commands: mp.Queue, results: mp.Queue, slice_s: float, frame_s: float, preload: tuple) -> None:
    """One worker process: take commands, and train the jobs it holds in turn, a slice each."""
    import importlib
    import os

    import torch

    torch.set_num_threads(1)
    for name in preload:  # the jobs' modules, imported before the first job arrives
        importlib.import_module(name)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)]).step()  # torch's optimisers load lazily, in seconds
    results.put(("ready", 0, None, None))
    jobs: dict[int, dict] = {}
    parent = os.getppid()
    while True:
        try:  # wait only while idle, and not for ever: a worker whose server went away ends too
            cmd = commands.get(timeout=1.0) if not jobs else commands.get_nowait()
        except queue.Empty:
            if os.getppid() != parent:
                return
            cmd = None
        if cmd is not None:
            if cmd[0] == "exit":
                return
            _command(jobs, cmd, results)
            continue
        _round(jobs, results, slice_s, frame_s)


def _group_of(job: Any) -> object:
    """The job's `group()`, or None for a job that always trains alone (it has none, or says None)."""
    return job.group() if hasattr(job, "group") else None


def _groups(jobs: dict[int, dict]) -> list[list[int]]:
    """The keys of the jobs, in lists of those that train together (the same `group()`, not None) and alone."""
    groups: dict[object, list[int]] = {}
    for key, entry in jobs.items():
        group = None if entry["stop"] else _group_of(entry["job"])
        groups.setdefault(("alone", key) if group is None else group, []).append(key)
    return list(groups.values())


def _round(jobs: dict[int, dict], results: mp.Queue, slice_s: float, frame_s: float) -> None:
    """A turn for every job, or group of jobs that train together: a slice of at least slice_s each, longer when
    there are few (a round of about frame_s / 8, so a job alone trains in longer stretches; short enough for
    frames to keep time)."""
    groups = _groups(jobs)
    for keys in groups:
        _turn(keys, jobs, results, max(slice_s, frame_s / 8 / len(groups)), frame_s)


def _turn(keys: list[int], jobs: dict[int, dict], results: mp.Queue, slice_s: float, frame_s: float) -> None:
    """A turn of one job, or of jobs that train together: train a slice; draw each that is due.

    Jobs of the same group (same kind of network: `job.group()`) train together in one slice, by
    `type(job).advance_together(jobs, deadline)`: one batched step trains them all for about the price
    of two single ones. Each job's frame is drawn at the turn nearest to frame_s after its last one (its turns
    come a round of the worker's jobs apart), so frames come every frame_s on average rather than every frame_s
    plus up to a round; and only once it trained as long as a draw takes, which keeps at least half of a job's
    share of the worker for training however many jobs share it: with very many jobs, frames come less often
    rather than training stopping. Training and drawing are counted in this thread's CPU time, so a draw that
    other processes interrupt does not count as costly.
    """
    entries = [jobs[key] for key in keys]
    t0, cpu0 = time.perf_counter(), time.thread_time()
    for entry in entries:
        if entry["turn"]:  # a running mean of the time between two turns of this job (a round of the worker's jobs)
            entry["round"] = 0.8 * entry["round"] + 0.2 * (t0 - entry["turn"])
        entry["turn"] = t0
    deadline = t0 + slice_s
    if len(keys) > 1:
        reasons = type(entries[0]["job"]).advance_together([e["job"] for e in entries], deadline)
    else:
        reasons = [entries[0]["stop"] or entries[0]["job"].advance(deadline)]
    now, cpu1 = time.perf_counter(), time.thread_time()
    for key, entry, reason in zip(keys, entries, reasons):
        entry["trained"] += cpu1 - cpu0
        if reason:
            results.put(("done", key, entry["job"].draw(f"{reason}; press Train to go on"), entry["job"]))
            del jobs[key]
        elif now - entry["drawn"] >= frame_s - entry["round"] / 2 and entry["trained"] >= entry["draw_s"]:
            cpu = time.thread_time()
            results.put(("frame", key, entry["job"].draw("training"), None))
            entry["drawn"], entry["trained"] = time.perf_counter(), 0.0
            entry["draw_s"] = 0.8 * entry["draw_s"] + 0.2 * (time.thread_time() - cpu)  # a draw's cost, a running mean


def _command(jobs: dict[int, dict], cmd: tuple, results: mp.Queue) -> None:
    kind, key, payload = cmd
    if kind == "start":
        jobs[key] = {"job": payload, "stop": "", "drawn": 0.0, "trained": 0.0, "draw_s": 0.0, "turn": 0.0,
                     "round": 0.0}
    elif key in jobs and kind == "stop":
        jobs[key]["stop"] = "stopped"
    elif key in jobs and kind == "tune":
        jobs[key]["job"].tune(**payload)


class Pool:
    """Worker processes that train jobs fairly; `run(job, stop)` streams a job's frames to the web process."""

    def __init__(self, processes: int = 2, slice_s: float = 0.002, frame_s: float = 0.070,
                 preload: tuple[str, ...] = ("dlf.explore.universality", "dlf.explore.classify")):
        ctx = mp.get_context("spawn")  # a fresh interpreter: never fork a process that runs threads
        self.results: mp.Queue = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(processes)]
        self.procs = [ctx.Process(target=_worker, args=(q, self.results, slice_s, frame_s, preload), daemon=True,
                                  name=f"dlf-explore-worker-{i}") for i, q in enumerate(self.commands)]
        for p in self.procs:
            p.start()
        self.load = [0] * processes
        self.kinds = [Counter() for _ in range(processes)]  # each worker's jobs by group
        self.inbox: dict[int, queue.Queue] = {}
        self.lock = threading.Lock()
        self.keys = itertools.count(1)
        self.closed = False
        threading.Thread(target=self._route, daemon=True, name="dlf-explore-frames").start()

    def _route(self) -> None:
        """Hand every message from the workers to the job it belongs to."""
        while not self.closed:
            try:
                msg = self.results.get(timeout=0.5)
            except (queue.Empty, OSError, EOFError, ValueError):
                continue
            with self.lock:
                box = self.inbox.get(msg[1])
            if box is not None:
                box.put(msg)

    def run(self, job: Any, stopped: Callable[[], bool], poll: Callable[[], dict | None] = lambda: None,
            keep: Callable[[Any], bool] = lambda frame: False) -> Iterator[tuple[Any, Any]]:
        """(frame, None) while the job trains, then (last frame, the finished job).

        `stopped()` says when to stop the job; `poll()` returns new settings for its `tune`, or None. When frames
        come faster than they are taken, only the newest is passed on, except a frame for which `keep(frame)`
        holds (a whole figure that the patches after it change): it is passed on before the newer one.
        """
        key, box = next(self.keys), queue.Queue()
        group = _group_of(job)
        with self.lock:  # the worker with the fewest jobs; of those, one that trains jobs of this group
            worker = min(range(len(self.procs)), key=lambda i: (self.load[i], -self.kinds[i][group]))
            self.load[worker] += 1
            self.kinds[worker][group] += 1
            self.inbox[key] = box
        commands = self.commands[worker]
        commands.put(("start", key, job))
        sent_stop = False
        try:
            while True:
                if not sent_stop and stopped():
                    commands.put(("stop", key, None))
                    sent_stop = True
                settings = poll()
                if settings:
                    commands.put(("tune", key, settings))
                try:
                    msg = box.get(timeout=0.1)
                except queue.Empty:
                    if not self.procs[worker].is_alive():
                        raise RuntimeError("a training worker of the explorer stopped") from None
                    continue
                while msg[0] == "frame" and not box.empty():  # only the newest frame matters, and those kept
                    newer = box.get()
                    if keep(msg[2]):
                        yield msg[2], None
                    msg = newer
                if msg[0] == "done":
                    yield msg[2], msg[3]
                    return
                yield msg[2], None
        finally:
            if not sent_stop:  # the browser went away mid-training: end the job
                commands.put(("stop", key, None))
            with self.lock:
                self.load[worker] -= 1
                self.kinds[worker][group] -= 1
                self.inbox.pop(key, None)

    def close(self) -> None:
        self.closed = True
        for q in self.commands:
            q.put(("exit", 0, None))
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()


_POOL: Pool | None = None


def start(processes: int, **kw) -> Pool | None:
    """Start the process-wide pool that the pages train in (none for processes=0); see `current`."""
    global _POOL
    if _POOL is None and processes > 0:
        _POOL = Pool(processes, **kw)
    return _POOL


def current() -> Pool | None:
    """The pool started by `start`, or None: then pages train in the web process's threads."""
    return _POOL


def stop() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.close()
        _POOL = None
