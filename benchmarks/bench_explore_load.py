"""Load test of `dlf explore`: a classroom of N sessions (default 20) training, or dragging a slider, at once.

    .venv/bin/python benchmarks/bench_explore_load.py                     # 20 sessions train for 10 s, width 16
    .venv/bin/python benchmarks/bench_explore_load.py --mixed             # ... widths 16 to 35: no two networks alike
    .venv/bin/python benchmarks/bench_explore_load.py --page classify     # ... Classification's Train (its defaults)
    .venv/bin/python benchmarks/bench_explore_load.py --page classify --mixed   # ... 4 data sets, 8 network shapes
    .venv/bin/python benchmarks/bench_explore_load.py --mode drag         # 20 sessions drag the neuron's w1 slider
    .venv/bin/python benchmarks/bench_explore_load.py --mode gallery --runs DIR   # ... a trained VAE's z1 slider
    .venv/bin/python benchmarks/bench_explore_load.py --sessions 5 --seconds 5 --width 64
    .venv/bin/python benchmarks/bench_explore_load.py --mode batching     # no server: 10 networks' batched step

It starts `python -m dlf explore` on 127.0.0.1 at a free port in a child process and opens sessions that speak
the browser's protocol (dlf.explore.loadclient: gradio's queue, each session its own hash, like a browser tab;
and the explorer's own routes, dlf.explore.stream, as the pages' scripts use them).

- train: first one session alone presses Train on the Universality page (or Classification's, --page classify)
  for T seconds (the baseline), then all N
  press Train at once and count the figure updates they receive during T seconds, then press Stop. As the page
  does, a session follows its press's stream (Server-Sent Events) and reads gradio's last answer. It reports
  the updates per second each session saw (a whole figure, or a patch that the page draws: what the browser
  gets), the training steps each made (from its last update within the T seconds; the Stops of N sessions land
  unevenly) against the session alone, measured the same way (a fair share is 1/N
  of it), and the server's CPU per figure update: the web process's, and the training workers' (which train
  whenever they are not drawing, so theirs is mostly training).
- drag: each session loads the page (gradio's load event draws the Neuron page, whose figure carries the
  session's token), then moves the Neuron page's w1 slider as the page's script does: a request to the page's
  route with the token, its answer, the next value 50 ms after the last was sent, on one kept-alive connection,
  for T seconds; it reports the round trips (median, 90th percentile, max).
- gallery: the same drag on a trained run's page: the VAE's z1 slider (the decoder runs at every move), served
  with `dlf explore --runs DIR`; DIR must hold a vae run (e.g. the folder of `dlf tour --part 2`).

Errors (failed jobs, a session that saw no update, a Stop that did not stop) are counted and shown. Loopback only,
bounded in sessions and time; it stops the server at the end. The clients run on the same machine as the server
and take some of its CPU. Needs gradio (pip install 'dlf[explore]'). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from dlf.explore.loadclient import STREAM, TOKEN, App, ServerGone, stop, wait_ready
from dlf.explore.loadclient import Session as Tab

MAX_SESSIONS, MAX_SECONDS = 64, 120  # hard bounds on what this script will do
STEP = re.compile(rb'(?:data-step=|\\?"step\\?":)\\?"(\d+)')  # data-step="12" or "step":"12", JSON-escaped or not


@dataclass
class Session:
    index: int
    updates: int = 0
    """Figure updates received while training, in the measured window."""
    window: float = 0.0
    steps: int = 0
    """Training steps shown by the last figure."""
    first: float = float("nan")
    """Seconds from the press of Train to the first figure update."""
    trips: list[float] = field(default_factory=list)
    """Round trips of slider events, seconds."""
    errors: list[str] = field(default_factory=list)
    last_status: str = ""

    @property
    def rate(self) -> float:
        return self.updates / self.window if self.window else 0.0


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU time of the web process and of its children (the training workers), from /proc (Linux)."""
    times = []
    for p in [pid, *children(pid)]:
        try:
            with open(f"/proc/{p}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            times.append((int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK"))
        except (OSError, IndexError, ValueError):
            times.append(0.0)
    return times[0], sum(times[1:])


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


def width_of(index: int, args: argparse.Namespace) -> int:
    """The session's network width: --width, or with --mixed width + index (no two sessions' networks alike)."""
    return args.width + index if args.mixed else args.width


CLASSIFY_MIXED = ("circle", "xor", "spirals", "gaussians")


def settings(index: int, args: argparse.Namespace) -> dict[str, object]:
    """The values a session sends with its presses: the Universality width; Classification's defaults, or with
    --mixed data set i % 4 and hidden layers (1 + i % 8, 2): eight shapes of network, so fewer train together;
    the largest of them, (8, 2), for the baseline of --mixed (`largest`)."""
    if args.page == "universality":
        return {"universality-width": width_of(index, args)}
    if args.mixed:
        return {"classify-dataset": CLASSIFY_MIXED[index % 4], "classify-hidden": f"{1 + index % 8}, 2"}
    return {"classify-hidden": "8, 2"} if getattr(args, "largest", False) else {}


def open_page(tab: Tab, page: str, values: dict) -> None:
    """What a browser's page load does before anyone presses a button: its first event creates the session's state
    on the server (gradio copies the app's configuration for it, tens of milliseconds), outside the measured time."""
    for _ in tab.events(f"{page}-reset", "click", values):
        pass


def train_session(s: Session, app: App, args: argparse.Namespace, start: threading.Barrier) -> None:
    """Press Train, count the frames received for args.seconds, press Stop; the steps are the last frame's in time.

    As the page does: the first answer names the press's stream (dlf.explore.stream), which it follows until
    the server ends it; its last status line says why training stopped. (A server that does not
    stream sends every frame through gradio: those are counted the same way.)
    """
    tab = Tab(app)
    try:
        open_page(tab, args.page, settings(s.index, args))
        start.wait(timeout=120)
        t0 = time.perf_counter()
        stop_at, stopped = t0 + args.seconds, False
        last = b""
        answers = tab.events(f"{args.page}-train", "click", settings(s.index, args))

        def frames():
            for kind, line in answers:
                path = STREAM.search(line[:400]) if kind == "frame" else None
                if path is None:
                    yield kind, line
                    continue
                for event, data in tab.stream(path.group(0).decode()):
                    if event in ("message", "error", "note"):
                        yield ("frame" if event == "message" else event), data
                        if event == "error":
                            return

        for kind, line in frames():
            now = time.perf_counter()
            if kind == "note":  # the status line; the last one says why the press ended
                last = line
            elif kind == "frame":
                s.first = now - t0 if s.updates == 0 else s.first
                s.updates += now <= stop_at
                last = line
                step = STEP.search(line[:800]) if now <= stop_at else None  # a whole figure's data-step, a patch's data
                s.steps = int(step.group(1)) if step else s.steps  # progress within the window: Stops land unevenly
            else:
                if kind == "error":
                    s.errors.append(f"job failed: {line[:150]!r}")
                break
            if now > stop_at and not stopped:
                tab.fire(f"{args.page}-stop", "click")
                stopped = True
            if now > stop_at + 30:
                s.errors.append("Stop did not end the training within 30 s")
                break
        s.last_status = "stopped" if b"stopped; press Train" in last else last[-200:].decode(errors="replace")
        s.window = min(time.perf_counter(), stop_at) - t0
        if not stopped:
            s.errors.append(f"training ended before {args.seconds} s: {s.last_status[-80:]}")
        elif "stopped" not in s.last_status:
            s.errors.append(f"last status is not 'stopped': {s.last_status[-80:]}")
        if s.updates == 0:
            s.errors.append("no update received")
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
        s.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def drag_session(s: Session, app: App, args: argparse.Namespace, start: threading.Barrier) -> None:
    """Move a slider as a drag does: one event at a time, 50 ms apart, for args.seconds.

    The Neuron page's w1 slider (mode drag) asks the page's own route (dlf.explore.stream) with the token that
    the page's first draw gave the session, as the page's script does; a trained VAE's z1 slider (mode
    gallery) fires its gradio event."""
    tab = Tab(app)
    try:
        token = None
        if args.mode == "gallery":
            open_page(tab, "universality", {"universality-width": args.width})
        else:  # the page load draws the Neuron page, which carries the session's token
            found = TOKEN.search(tab.load())
            token = found.group(1).decode() if found else None
            if token is None:
                raise RuntimeError("the page load gave no token for the Neuron page's drags")
        start.wait(timeout=120)
        end, k = time.perf_counter() + args.seconds, 0
        while time.perf_counter() < end:
            sent = time.perf_counter()
            value = round(-4.0 + (k * 0.1 + s.index * 0.37) % 8.0, 1)
            if token is not None:
                status, body = tab.get(f"/dlf/neuron/{token}?w1={value}&w2=-0.5&b=0.5&activation=sigmoid&x1=1&x2=1")
                if status != 200 or b'"svg":"<svg' not in body[:40]:
                    s.errors.append(f"an answer without its figure ({status}): {body[:100]!r}")
            else:
                elem, value = "vae-z1", round(value * 0.75, 2)  # z1 lies in [-3, 3]
                for kind, line in tab.events(elem, "change", {elem: value}):
                    if kind == "error":
                        s.errors.append(f"event failed: {line[:150]!r}")
            s.trips.append(time.perf_counter() - sent)
            s.updates, k = s.updates + 1, k + 1
            time.sleep(max(0.0, sent + 0.05 - time.perf_counter()))
        s.window = args.seconds
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
        s.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def warm_up(app: App, args: argparse.Namespace) -> None:
    """Two sessions train for a second and get their figures: both training workers have started and imported
    torch (which takes seconds after the server answers), so the baseline is not charged for it."""
    warm = {**vars(args), "seconds": 1.0, "width": 4, "mode": "train", "mixed": False, "page": "universality"}
    run_sessions(2, app, argparse.Namespace(**warm), os.getpid())


def run_sessions(n: int, app: App, args: argparse.Namespace, pid: int
                 ) -> tuple[list[Session], tuple[float, float], float]:
    """n sessions at once; (sessions, CPU seconds of the web process and of the workers, wall seconds)."""
    sessions = [Session(i) for i in range(n)]
    start = threading.Barrier(n + 1)
    target = train_session if args.mode == "train" else drag_session
    threads = [threading.Thread(target=target, args=(s, app, args, start), daemon=True) for s in sessions]
    for t in threads:
        t.start()
    start.wait(timeout=180)
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    for t in threads:
        t.join(timeout=args.seconds + 90)
    web, work = cpu_seconds(pid)
    return sessions, (web - cpu0[0], work - cpu0[1]), time.perf_counter() - t0


def figure_cost(repeats: int = 100) -> dict[str, float]:
    """CPU milliseconds (this thread's, so other processes' load does not count) to make one update, in-process:
    a Universality training frame as a patch and as the whole figure (width 16, after 600 steps), a Neuron
    redraw (the whole figure, as a link or a first draw makes it), a Neuron drag's answer (the compact data
    that the page paints) and a Classification training frame as a patch and as the whole figure (its defaults,
    after 600 steps). One torch thread, as the server and its workers compute."""
    import math

    import torch

    from dlf.explore import classfig, classify, neuron, unifig, universality
    from dlf.explore.session import Limits

    torch.set_num_threads(1)
    state = universality.UState()
    universality.reset(state, {f.name: f.default for f in universality.FIELDS}, Limits())
    state.live.train(math.inf, 600, 0.01, "adam")
    sent: dict = {}
    unifig.live_frame(state, "training", sent)  # the whole figure first; the frames after it are patches
    cstate, csent = classify.CState(), {}
    classify.reset(cstate, {f.name: f.default for f in classify.FIELDS})
    classify._train([cstate.live], [cstate.tune], math.inf, 600)
    cstate.live.update()
    classfig.live_frame(cstate, "training", csent)
    settings = {f.name: f.default for f in neuron.FIELDS}
    jobs = {"universality patch": lambda: unifig.live_frame(state, "training", sent),
            "universality whole figure": lambda: unifig.render(state, "training"),
            "classification patch": lambda: classfig.live_frame(cstate, "training", csent),
            "classification whole figure": lambda: classfig.render(cstate, "training"),
            "neuron redraw": lambda: neuron.render(settings),
            "neuron drag answer": lambda: neuron.compact({k: str(v) for k, v in settings.items()}, "token")}
    out = {}
    for name, job in jobs.items():
        job()
        t0 = time.thread_time()
        for _ in range(repeats):
            job()
        out[name] = 1e3 * (time.thread_time() - t0) / repeats
    return out


def batching(pairs: int = 5, networks: int = 10, seconds: float = 1.0) -> None:
    """--mode batching: in-process, one torch thread, the workers' batched step against one network's step, for
    both training pages (their defaults; Universality at width 16 with Adam): network-steps per CPU second of
    `networks` trained together and of one alone, in `pairs` interleaved pairs of `seconds` each; prints each
    pair and the median ratio."""
    import math

    import torch

    from dlf.explore import classify, universality
    from dlf.explore.livefit import train_together as uni_together
    from dlf.explore.session import Limits

    torch.set_num_threads(1)

    def classify_nets(n: int) -> list:
        states = [classify.CState() for _ in range(n)]
        for i, st in enumerate(states):
            classify.reset(st, {f.name: f.default for f in classify.FIELDS} | {"seed": i})
        return [st.live for st in states], [st.tune for st in states]

    def uni_nets(n: int) -> list:
        states = [universality.UState() for _ in range(n)]
        for st in states:
            universality.reset(st, {f.name: f.default for f in universality.FIELDS}, Limits())
        return [st.live for st in states]

    def rate(page: str, n: int) -> float:
        """Network-steps per CPU second for n networks trained together (one alone when n is 1)."""
        if page == "classify":
            lives, tunes = classify_nets(n)
            step = lambda: classify._train(lives, tunes, math.inf, 20)  # noqa: E731
        else:
            lives = uni_nets(n)
            step = lambda: uni_together(lives, math.inf, 20, [0.01] * n, "adam")  # noqa: E731
        step()
        t0, steps = time.thread_time(), 0
        while time.thread_time() - t0 < seconds:
            step()
            steps += 20
        return n * steps / (time.thread_time() - t0)

    for page in ("classify", "universality"):
        ratios = []
        for i in range(pairs):
            together, alone = rate(page, networks), rate(page, 1)
            ratios.append(together / alone)
            print(f"{page} pair {i + 1}: {networks} together {together:,.0f} network-steps per CPU second, "
                  f"one alone {alone:,.0f}: {together / alone:.2f}x")
        print(f"{page}: median ratio {statistics.median(ratios):.2f}x over {pairs} interleaved pairs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default: 20)")
    p.add_argument("--seconds", type=float, default=10.0, help="training time per session (default: 10)")
    p.add_argument("--width", type=int, default=16, help="hidden units of every session's network (default: 16)")
    p.add_argument("--page", choices=("universality", "classify"), default="universality",
                   help="train: the page whose Train every session presses (classify: Classification, its defaults)")
    p.add_argument("--mixed", action="store_true",
                   help="train: session i uses width + i, so that no two networks are alike and fewer train "
                        "together (the workers batch networks whose widths round up to the same power of two); "
                        "the baseline keeps --width. With --page classify: data set i %% 4, hidden layers "
                        "(1 + i %% 8, 2), eight shapes of network; the baseline trains the largest, (8, 2)")
    p.add_argument("--mode", choices=("train", "drag", "gallery", "batching"), default="train",
                   help="train: press Train in every session; drag: move a slider in every session; "
                        "gallery: move a trained VAE's latent slider in every session (needs --runs); "
                        "batching: no server, the workers' batched step of 10 networks against one's, in-process")
    p.add_argument("--runs", help="gallery: a folder holding a vae run (e.g. one made by 'dlf tour --part 2')")
    p.add_argument("--out", help="also write the results as JSON to this file")
    args = p.parse_args()
    if args.mode == "batching":
        batching()
        return
    if not (1 <= args.sessions <= MAX_SESSIONS and 0 < args.seconds <= MAX_SECONDS):
        raise SystemExit(f"use 1..{MAX_SESSIONS} sessions and 0..{MAX_SECONDS} seconds")
    from dlf.explore.server import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tempfile.NamedTemporaryFile("w+", prefix="dlf-explore-", suffix=".log", delete=False)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    if args.mode == "gallery" and not args.runs:
        raise SystemExit("--mode gallery needs --runs DIR, a folder holding a vae run")
    runs = ["--runs", args.runs] if args.runs else []
    proc = subprocess.Popen([sys.executable, "-m", "dlf", "explore", "--host", "127.0.0.1", "--port", str(port), *runs],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        try:
            wait_ready(url, proc)
        except ServerGone as exc:
            raise SystemExit(str(exc)) from None
        app = App(url)
        warm_up(app, args)
        # the baseline: the default network; with --page classify --mixed the largest of the mix (8, 2), so that
        # the slowest session, which trains the largest, is compared with the same network alone
        baseline = {**vars(args), "mixed": False, "largest": args.mixed and args.page == "classify"}
        alone = run_sessions(1, app, argparse.Namespace(**baseline), proc.pid)[0][0] if args.mode == "train" else None
        sessions, cpu, wall = run_sessions(args.sessions, app, args, proc.pid)
    finally:
        stop(proc)
    report(sessions, alone, args, cpu, wall, log.name)


def report(sessions: list[Session], alone: Session | None, args: argparse.Namespace, cpus: tuple[float, float],
           wall: float, log: str) -> None:
    errors = [(s.index, e) for s in sessions for e in s.errors]
    updates = sum(s.updates for s in sessions)
    load = os.getloadavg()[0]
    print(f"{args.sessions} sessions x {args.seconds:g} s, mode {args.mode}, {os.cpu_count()} CPU cores, "
          f"load average {load:.1f} at the end")
    cpu = sum(cpus)
    result = {"sessions": args.sessions, "seconds": args.seconds, "mode": args.mode, "server_cpu_s": cpu,
              "web_cpu_s": cpus[0], "worker_cpu_s": cpus[1], "wall_s": wall, "load_average": load, "errors": errors}
    if args.mode == "train":
        rates, steps = [s.rate for s in sessions], [s.steps for s in sessions]
        widths = f"widths {args.width} to {args.width + args.sessions - 1}" if args.mixed else f"width {args.width}"
        if args.page == "classify":
            widths = ("Classification, data sets and hidden layers (1 to 8, 2) mixed" if args.mixed
                      else "Classification, its defaults")
        print(f"{widths}; updates/s per session: " + " ".join(f"{r:.1f}" for r in rates))
        print(f"min {min(rates):.1f}   median {statistics.median(rates):.1f}   max {max(rates):.1f}   "
              f"all sessions together {sum(rates):.0f} updates/s")
        share = min(steps) / max(alone.steps, 1)
        print(f"training steps: alone {alone.steps} ({alone.rate:.1f} updates/s); together min {min(steps)} "
              f"median {statistics.median(steps):.0f} max {max(steps)}: the slowest made {share:.3f} of the "
              f"session alone (a fair share is 1/{args.sessions} = {1 / args.sessions:.3f})")
        firsts = [s.first for s in sessions]
        print(f"first update after the press: alone {alone.first:.2f} s; together min {min(firsts):.2f} "
              f"median {statistics.median(firsts):.2f} max {max(firsts):.2f} s")
        result |= {"page": args.page, "width": args.width, "mixed": args.mixed, "rates": rates, "steps": steps,
                   "alone_steps": alone.steps, "firsts": firsts, "alone_rate": alone.rate, "fair_share": share}
    else:
        trips = sorted(t for s in sessions for t in s.trips)
        pct = trips[int(0.9 * (len(trips) - 1))] if trips else float("nan")
        print(f"slider round trips: {len(trips)}; median {1e3 * statistics.median(trips):.0f} ms, "
              f"90th percentile {1e3 * pct:.0f} ms, max {1e3 * trips[-1]:.0f} ms")
        result |= {"round_trips_s": trips}
    per = 1e3 / max(updates, 1)
    print(f"server CPU: {cpu:.1f} s in {wall:.1f} s ({cpu / wall:.2f} cores), {per * cpu:.1f} ms per update: "
          f"web process {cpus[0]:.1f} s ({per * cpus[0]:.1f} ms per update), training workers {cpus[1]:.1f} s "
          f"(training fills their time; {per * cpus[1]:.1f} ms per update)")
    cost = figure_cost()
    print("CPU to make one update, in this process: " + ", ".join(f"{k} {v:.2f} ms" for k, v in cost.items()))
    result |= {"figure_cost_ms": cost}
    print(f"errors: {len(errors)}" + "".join(f"\n  session {i}: {e}" for i, e in errors[:20]))
    print(f"server log: {log}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
