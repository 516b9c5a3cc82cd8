"""Load test of `dlf explore`: N sessions (default 20) train the universality playground at once for T seconds.

    .venv/bin/python benchmarks/bench_explore_load.py                      # 20 sessions x 10 s, width 16
    .venv/bin/python benchmarks/bench_explore_load.py --sessions 5 --seconds 5 --width 64

It starts `python -m dlf explore` on 127.0.0.1 at a free port in a child process, opens N sessions (each its
own session hash, like a browser tab, speaking gradio's queue protocol as the browser does), presses Train in
all of them at once, counts the figure updates each receives during T seconds, then presses Stop in each and
waits for its last frame. It reports the updates
per second each session saw, the errors (exceptions, failed jobs, sessions that saw no update, a Stop that
did not stop) and the CPU the server used. Loopback only, bounded in sessions and time; it stops the server at
the end. The clients run on the same machine as the server and take some of its CPU. Needs gradio
(pip install 'dlf[explore]'). Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_SESSIONS, MAX_SECONDS = 64, 120  # hard bounds on what this script will do


@dataclass
class Session:
    index: int
    updates: int = 0
    """Figure updates received while training, in the measured window."""
    window: float = 0.0
    errors: list[str] = field(default_factory=list)
    last_status: str = ""

    @property
    def rate(self) -> float:
        return self.updates / self.window if self.window else 0.0


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer at {url} within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux); 0 where unavailable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def endpoints(url: str) -> dict[str, dict]:
    """api_name -> {id, inputs (component types)} from the app's config."""
    with urllib.request.urlopen(url + "config", timeout=30) as r:
        cfg = json.loads(r.read())
    types = {c["id"]: c["type"] for c in cfg["components"]}
    return {d["api_name"]: {"id": d["id"], "inputs": [types[i] for i in d["inputs"]]}
            for d in cfg["dependencies"] if d.get("api_name")}


def run_session(s: Session, url: str, api: dict, args: argparse.Namespace, start: threading.Barrier) -> None:
    """One session, speaking gradio's queue protocol as the browser does: join, then read the event stream.

    A light client (the standard library, no JSON parsing of the frames) so that the clients, which share the
    machine with the server, take as little CPU as they can.
    """
    session = uuid.uuid4().hex[:12]
    train, stop = api["universality_train"], api["universality_stop"]
    values = iter(["sin", "", "tanh", args.width, 0.01, "adam"])
    data = [None if kind == "state" else next(values) for kind in train["inputs"]]
    host, port = urlsplit(url).hostname, urlsplit(url).port
    try:
        stream = http.client.HTTPConnection(host, port, timeout=60)
        start.wait(timeout=120)
        post(url + "gradio_api/queue/join", {"data": data, "fn_index": train["id"], "session_hash": session,
                                             "event_data": None, "trigger_id": None})
        stream.request("GET", f"/gradio_api/queue/data?session_hash={session}")
        response = stream.getresponse()
        t0 = time.perf_counter()
        stop_at, stopped = t0 + args.seconds, False
        while line := response.readline():
            head = line[:60]
            now = time.perf_counter()
            if b'"process_generating"' in head and now <= stop_at:
                s.updates += 1
            elif b'"process_completed"' in head:
                done = json.loads(line[5:])
                if not done.get("success", False):
                    s.errors.append(f"job failed: {str(done.get('output'))[:150]}")
                s.last_status = str(done.get("output", {}).get("data", ["", ""])[-1])
                break
            elif b'"queue_full"' in head or b'"unexpected_error"' in head:
                s.errors.append(line[:150].decode(errors="replace"))
                break
            if now > stop_at and not stopped:
                post(url + "gradio_api/run/universality_stop", {"data": [None] * len(stop["inputs"]),
                                                                "fn_index": stop["id"], "session_hash": session})
                stopped = True
            if now > stop_at + 30:
                s.errors.append("Stop did not end the training within 30 s")
                break
        stream.close()
        s.window = min(time.perf_counter(), stop_at) - t0
        if not stopped:
            s.errors.append(f"training ended before {args.seconds} s: {s.last_status[-80:]}")
        elif "stopped" not in s.last_status:
            s.errors.append(f"last status is not 'stopped': {s.last_status[-80:]}")
        if s.updates == 0:
            s.errors.append("no update received")
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
        s.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default: 20)")
    p.add_argument("--seconds", type=float, default=10.0, help="training time per session (default: 10)")
    p.add_argument("--width", type=int, default=16, help="hidden units of every session's network (default: 16)")
    p.add_argument("--out", help="also write the results as JSON to this file")
    args = p.parse_args()
    if not (1 <= args.sessions <= MAX_SESSIONS and 0 < args.seconds <= MAX_SECONDS):
        raise SystemExit(f"use 1..{MAX_SESSIONS} sessions and 0..{MAX_SECONDS} seconds")
    from dlf.explore.server import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tempfile.NamedTemporaryFile("w+", prefix="dlf-explore-", suffix=".log", delete=False)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "dlf", "explore", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(url, proc)
        api = endpoints(url)
        sessions = [Session(i) for i in range(args.sessions)]
        start = threading.Barrier(args.sessions + 1)
        threads = [threading.Thread(target=run_session, args=(s, url, api, args, start), daemon=True) for s in sessions]
        for t in threads:
            t.start()
        start.wait(timeout=180)
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        for t in threads:
            t.join(timeout=args.seconds + 90)
        cpu = cpu_seconds(proc.pid) - cpu0
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    report(sessions, args, cpu, wall, log.name)


def report(sessions: list[Session], args: argparse.Namespace, cpu: float, wall: float, log: str) -> None:
    rates = [s.rate for s in sessions]
    errors = [(s.index, e) for s in sessions for e in s.errors]
    print(f"{args.sessions} sessions x {args.seconds:g} s, universality playground, {args.width} hidden units, "
          f"{os.cpu_count()} CPU cores")
    print("updates/s per session: " + " ".join(f"{r:.1f}" for r in rates))
    print(f"min {min(rates):.1f}   median {statistics.median(rates):.1f}   max {max(rates):.1f}   "
          f"all sessions together {sum(rates):.0f} updates/s")
    print(f"server CPU: {cpu:.1f} s in {wall:.1f} s ({cpu / wall:.2f} cores)")
    print(f"errors: {len(errors)}" + "".join(f"\n  session {i}: {e}" for i, e in errors[:20]))
    print(f"server log: {log}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"sessions": args.sessions, "seconds": args.seconds, "width": args.width, "rates": rates,
                       "errors": errors, "server_cpu_s": cpu, "wall_s": wall}, f, indent=2)


if __name__ == "__main__":
    main()
