"""The shared training loop: batches, schedule, checkpoints, exact resume (SIGKILL included), Ctrl-C, NaN, DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dlf.rundir import Run
from dlf.train import Task, TensorSource, TrainConfig, Trainer, TrainingDiverged, checkpoint
from dlf.train.trainer import batch_indices, lr_factor
from tests.fixtures import make_mnist_fixture
from tests.helpers import sigkilled_at_checkpoint, torchrun_beside, without_speed

ROOT = Path(__file__).resolve().parents[1]


def dlf_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dlf", *args]


def env() -> dict[str, str]:
    """A `dlf` subprocess's environment: this checkout's code, one torch thread (as the one_torch_thread fixture
    gives the runs made in this process, so that both sum floats in the same order), no data dir from outside."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    e.pop("DLF_DATA_DIR", None)
    return e


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> Path:
    return make_mnist_fixture(tmp_path_factory.mktemp("mnist"), n_train=640, n_test=200)


class Linear(Task):
    """y = 3x - 1 with a loss that can be made NaN at a chosen step."""

    def __init__(self, nan_at: int | None = None):
        super().__init__()
        self.model = torch.nn.Linear(1, 1)
        self.calls, self.nan_at = 0, nan_at

    def training_step(self, batch):
        x, y = batch
        self.calls += 1
        loss = ((self.model(x) - y) ** 2).mean()
        if self.nan_at is not None and self.calls == self.nan_at:
            loss = loss * float("nan")
        return {"loss": loss}


def linear_data(n: int = 256) -> TensorSource:
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    return TensorSource(x, 3 * x - 1)


def test_batches_cover_each_epoch_once_and_repeat_for_a_seed():
    n, bs = 100, 10
    epoch = torch.cat([batch_indices(n, bs, seed=3, step=s) for s in range(10)])
    assert sorted(epoch.tolist()) == list(range(100))
    assert torch.equal(batch_indices(n, bs, 3, 7), batch_indices(n, bs, 3, 7))
    assert not torch.equal(batch_indices(n, bs, 3, 0), batch_indices(n, bs, 3, 10))  # next epoch: new order
    assert not torch.equal(batch_indices(n, bs, 3, 0), batch_indices(n, bs, 4, 0))


def test_lr_schedules():
    cfg = TrainConfig(warmup_steps=10, schedule="cosine")
    assert lr_factor(cfg, 0, 110) == pytest.approx(0.1)
    assert lr_factor(cfg, 9, 110) == pytest.approx(1.0)
    assert lr_factor(cfg, 60, 110) == pytest.approx(0.5)
    assert lr_factor(cfg, 110, 110) == pytest.approx(0.0)
    lin = TrainConfig(schedule="linear")
    assert lr_factor(lin, 50, 100) == pytest.approx(0.5)
    one = TrainConfig(schedule="onecycle")
    peak = max(lr_factor(one, s, 100) for s in range(100))
    assert peak == pytest.approx(1.0) and lr_factor(one, 0, 100) < 0.2 and lr_factor(one, 99, 100) < 0.01


def test_trainer_fits_and_checkpoints_atomically(tmp_path):
    cfg = TrainConfig(epochs=30, batch_size=32, lr=0.05, schedule="constant", ckpt_every=40, log_every=8,
                      keep_checkpoints=2, device="cpu")
    run = Run.create(tmp_path / "run", "{}")
    result = Trainer(cfg, run, Linear(), linear_data()).fit()
    assert result.step == 30 * 8
    assert result.train["loss"] < 1e-4
    ckpts = checkpoint.complete(tmp_path / "run" / "checkpoints")
    assert [p.name for p in ckpts] == ["step-00000200", "step-00000240"]  # only the newest two kept
    assert not list((tmp_path / "run" / "checkpoints").glob(".tmp-*"))
    tensors = load_file(str(ckpts[-1] / "tensors.safetensors"))
    assert {"model.model.weight", "model.model.bias", "rng.torch"} <= set(tensors)
    assert any(k.startswith("optim.main.") for k in tensors)
    state = json.loads((ckpts[-1] / "state.json").read_text())
    assert state["step"] == 240
    rows = run.read_metrics()
    assert rows[-1]["step"] == 240 and "train_loss" in rows[-1]


def test_checkpoint_restores_model_optimizer_and_rng_exactly(tmp_path):
    torch.manual_seed(0)
    task = Linear()
    opt = torch.optim.AdamW(task.parameters(), lr=0.1)
    task.training_step(linear_data().get(torch.arange(8)))["loss"].backward()
    opt.step()
    path = checkpoint.save(tmp_path, 1, task, {"main": opt}, {"note": "x"})
    expected_draw = torch.rand(3)
    clone = Linear()
    opt2 = torch.optim.AdamW(clone.parameters(), lr=0.1)
    torch.manual_seed(123)
    meta = checkpoint.load(path, clone, {"main": opt2}, torch.device("cpu"))
    assert meta["extra"] == {"note": "x"}
    assert torch.equal(torch.rand(3), expected_draw)
    for a, b in zip(task.parameters(), clone.parameters()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    for pid in s1:
        for key in s1[pid]:
            assert torch.equal(torch.as_tensor(s1[pid][key]), torch.as_tensor(s2[pid][key]))


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = TrainConfig(epochs=10, batch_size=32, lr=0.01, ckpt_every=5, device="cpu")
    run = Run.create(tmp_path / "run", "{}")
    with pytest.raises(TrainingDiverged, match="diverged at step 13: loss is nan;.*step-00000010"):
        Trainer(cfg, run, Linear(nan_at=13), linear_data()).fit()
    last = checkpoint.complete(tmp_path / "run" / "checkpoints")[-1]
    assert last.name == "step-00000010"
    weights = load_file(str(last / "tensors.safetensors"))
    assert all(torch.isfinite(v).all() for k, v in weights.items() if k.startswith("model."))


def test_nan_run_exits_non_zero_with_one_line(tmp_path, mnist_dir, capsys, monkeypatch):
    from dlf.cli import main
    from dlf.experiments._mnist import Classifier

    step = Classifier.training_step

    def inf_at_step_7(self, batch):  # a loss that overflows, as a far too large learning rate makes it
        out = step(self, batch)
        self.calls = getattr(self, "calls", 0) + 1
        return {**out, "loss": out["loss"] * (float("inf") if self.calls == 7 else 1.0)}

    monkeypatch.setattr(Classifier, "training_step", inf_at_step_7)
    code = main(["run", "mnist-mlp", "--out", str(tmp_path / "r"), "--data-dir", str(mnist_dir), "--hidden", "16",
                 "--batch-size", "64", "--max-steps", "50", "--ckpt-every", "5", "--quiet", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert err == [f"dlf: error: training diverged at step 7: loss is inf; the last good checkpoint is "
                   f"{tmp_path / 'r' / 'checkpoints' / 'step-00000005'}; lower --lr or set --grad-clip"]


def _train_args(out: Path, data: Path) -> list[str]:
    return ["run", "mnist-cnn", "--out", str(out), "--data-dir", str(data), "--width", "8", "--epochs", "8",
            "--batch-size", "32", "--ckpt-every", "4", "--log-every", "4", "--eval-every", "20", "--test-size", "100",
            "--device", "cpu", "--quiet"]


def _deterministic(summary_path: Path) -> dict:
    return json.loads(summary_path.read_text())


def _wait_for_checkpoint(folder: Path, proc: subprocess.Popen, at_least: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = checkpoint.complete(folder / "checkpoints")
        if done and int(done[-1].name.split("-")[1]) >= at_least:
            return
        if proc.poll() is not None:
            pytest.fail(f"training ended before step {at_least}: {proc.stderr.read()}")
        time.sleep(0.01)
    pytest.fail("no checkpoint appeared in time")


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_same_summary(tmp_path, mnist_dir, one_torch_thread):
    """Only the killed run is a process of its own (SIGKILL is the point); the uninterrupted run and the resume
    run in this process, through the same CLI, which spares two start-ups of torch."""
    from dlf.cli import main

    full, killed = tmp_path / "full", tmp_path / "killed"
    with sigkilled_at_checkpoint(_train_args(killed, mnist_dir), killed / "checkpoints", at_least=40, env=env()):
        assert main(_train_args(full, mnist_dir)) == 0  # the uninterrupted run, while the other one starts
    assert not (killed / "summary.json").exists(), "the run finished before it could be killed"
    assert main(["run", "mnist-cnn", "--resume", str(killed), "--data-dir", str(mnist_dir), "--quiet"]) == 0
    assert (killed / "summary.json").read_text() == (full / "summary.json").read_text()
    assert without_speed(Run(killed).read_metrics()) == without_speed(Run(full).read_metrics())


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, mnist_dir):
    out = tmp_path / "run"
    proc = subprocess.Popen(dlf_cmd(*_train_args(out, mnist_dir)), env=env(), stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(out, proc, at_least=8)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "checkpoint saved" in lines[0] and "--resume" in lines[0]
    assert "Traceback" not in err
    step = int(lines[0].split("step ")[1].split(";")[0])
    assert (out / "checkpoints" / f"step-{step:08d}").is_dir()


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path, mnist_dir, one_torch_thread):
    """Same global batch: 2 gloo processes x 32 vs 1 process x 64. Tolerance: 1e-5 absolute on every weight
    (float32 sums in a different order)."""
    from dlf.cli import main

    common = ["run", "mnist-mlp", "--data-dir", str(mnist_dir), "--hidden", "32", "--batch-size", "64",
              "--max-steps", "12", "--device", "cpu", "--quiet", "--test-size", "50"]
    single, multi = tmp_path / "single", tmp_path / "multi"
    with torchrun_beside([*common, "--out", str(multi)], env()):
        assert main([*common, "--out", str(single)]) == 0  # the one-process run, here, while torchrun starts
    a = load_file(str(checkpoint.latest(single / "checkpoints") / "tensors.safetensors"))
    b = load_file(str(checkpoint.latest(multi / "checkpoints") / "tensors.safetensors"))
    weights = [k for k in a if k.startswith("model.")]
    assert weights
    moved = max(float((a[k] - b[k]).abs().max()) for k in weights)
    assert moved < 1e-5
    assert json.loads((multi / "summary.json").read_text())["steps"] == 12


def test_tensorboard_gets_the_same_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, log_every=4, tensorboard=True, device="cpu")
    run = Run.create(tmp_path / "run", "{}")
    Trainer(cfg, run, Linear(), linear_data(), linear_data(64)).fit()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    losses = events.Scalars("train/loss")
    logged = [r for r in run.read_metrics() if "train_loss" in r]
    assert [e.step for e in losses] == [r["step"] for r in logged]
    assert [e.value for e in losses] == pytest.approx([r["train_loss"] for r in logged], rel=1e-6)
    assert events.Scalars("val/loss")


class Slow(Linear):
    """Each step takes at least 20 ms, so a time limit ends training long before the step budget."""

    def training_step(self, batch):
        time.sleep(0.02)
        return super().training_step(batch)


def test_time_limit_stops_training_saves_and_runs_the_schedule_on_the_clock(tmp_path):
    cfg = TrainConfig(epochs=1000, batch_size=32, lr=0.1, time_limit=0.5 / 60, log_every=1000, schedule="linear")
    run = Run.create(tmp_path / "run", "{}")
    trainer = Trainer(cfg, run, Slow(), linear_data())
    result = trainer.fit()
    run.close()
    assert 5 <= result.step < 100  # 0.5 s of 20 ms steps, out of 8,000 planned
    ckpt = checkpoint.latest(tmp_path / "run" / "checkpoints")
    assert ckpt is not None and ckpt.name.endswith(f"{result.step:08d}")
    assert trainer.elapsed >= 0.5
    rows = run.read_metrics()
    assert rows[-1]["step"] == result.step and "train_loss" in rows[-1]
    # the linear schedule followed the clock: at the end the rate is near 0, not near --lr as step/8000 would say
    assert rows[-1]["lr"] < 0.1 * 0.2
