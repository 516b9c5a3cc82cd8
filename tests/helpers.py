"""Shared helpers for the tests of experiments that train through dlf.train.Trainer."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dlf.runner import execute
from dlf.train import Trainer, TrainingStopped, checkpoint


def execute_until_checkpoint(name: str, cfg, out, step: int, **kwargs) -> None:
    """`dlf run NAME` into `out`, stopped as if killed right after its checkpoint at `step` (nothing after it runs)."""
    save = Trainer.save

    def save_then_stop(self):
        save(self)
        if self.step == step:
            raise TrainingStopped("stopped for the test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "save", save_then_stop)
        with pytest.raises(TrainingStopped):
            execute(name, cfg, out, quiet=True, **kwargs)


def without_speed(rows: list[dict]) -> list[dict]:
    """Metric rows without their wall-clock field, which is the one thing a resumed run may not repeat."""
    return [{k: v for k, v in r.items() if k != "samples_per_s"} for r in rows]


@contextlib.contextmanager
def sigkilled_at_checkpoint(argv: list[str], ckpt_dir, at_least: int, env: dict[str, str] | None = None,
                            timeout: float = 300):
    """Start `python -m dlf ARGV`; a watcher thread SIGKILLs it as soon as `ckpt_dir` holds a checkpoint of step
    >= at_least, while the body of the `with` runs (e.g. the uninterrupted run, in this process, on the other core).

    On leaving the `with` it waits for the kill, and fails the test if the run ended first or no checkpoint came
    in time (`timeout` counts from the start, which shares the CPUs with the body). `env` defaults to this
    environment with this checkout's src/ on PYTHONPATH."""
    if env is None:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "dlf", *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    outcome: list[str] = []

    def watch() -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            done = checkpoint.complete(Path(ckpt_dir))
            if done and int(done[-1].name.split("-")[1]) >= at_least:
                proc.send_signal(signal.SIGKILL)
                outcome.append("killed")
                return
            if proc.poll() is not None:
                outcome.append(f"the run ended before step {at_least}")
                return
            time.sleep(0.01)
        outcome.append("no checkpoint appeared in time")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield proc
        watcher.join(timeout + 10)
    finally:
        if proc.poll() is None and not outcome:
            proc.kill()
        proc.wait()
        err = proc.stderr.read()
        proc.stderr.close()
    if outcome != ["killed"]:
        pytest.fail(f"{outcome[0] if outcome else 'the watcher did not finish'}: {err[-2000:]}")
    assert proc.returncode == -signal.SIGKILL


@contextlib.contextmanager
def torchrun_beside(argv: list[str], env: dict[str, str], nproc: int = 2):
    """Run `torchrun --nproc-per-node NPROC -m dlf ARGV` (real processes, gloo) while the body of the `with` runs
    (e.g. the one-process run to compare with, in this process); on leaving, wait for it and fail on its error."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
                "--nproc-per-node", str(nproc), "-m", "dlf", *argv]
    proc = subprocess.Popen(torchrun, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
        printed, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.terminate()  # torchrun passes SIGTERM on to its workers
        proc.wait(timeout=60)
    assert proc.returncode == 0, f"torchrun failed: {printed[-2000:]}"


def start_explorer(code: str, args: list[str], env: dict[str, str] | None = None, start_timeout: float = 90):
    """Start the explorer in its own process (`python -c code *args`) and wait until it answers; yield its URL.

    A generator for module-scoped fixtures: `yield from start_explorer(SERVER, [str(port)])`. The process is
    stopped when the fixture ends; a server that never answers fails the test with the end of its stderr."""
    from dlf.explore.loadclient import ServerGone, stop, wait_ready

    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})})
    url = f"http://127.0.0.1:{args[0]}/"
    try:
        wait_ready(url, proc, start_timeout)
    except ServerGone as exc:
        proc.kill()
        pytest.fail(f"the explorer did not start ({exc}): {proc.stderr.read().decode()[-2000:]}")
    try:
        yield url
    finally:
        stop(proc)


def load_script(relpath: str, name: str):
    """Import a script of the repository that is not in a package (e.g. scripts/check-docs.py) as module `name`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / relpath)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
