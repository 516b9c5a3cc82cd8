"""Run folders are verified, not trusted: every file of a run folder damaged in every way we know of gives a
one-line error or a fallback to the previous good checkpoint, never a traceback and never silent acceptance."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from dlf.cli import main
from dlf.errors import DlfError
from dlf.rundir import Run
from dlf.train import TrainConfig, Trainer, checkpoint
from dlf.train.checkpoint import CheckpointDamaged
from tests.fixtures import make_mnist_fixture
from tests.test_trainer import Linear, linear_data

CFG = TrainConfig(epochs=2, batch_size=32, lr=0.05, schedule="constant", ckpt_every=4, log_every=4, device="cpu")
LAST, PREVIOUS = "step-00000016", "step-00000012"  # 2 epochs of 8 steps; the two checkpoints kept


def train(path: Path, resume: bool = False) -> Trainer:
    run = Run.create(path, "{}", resume=resume)
    run.resume, run.quiet = resume, True
    torch.manual_seed(0)
    trainer = Trainer(CFG, run, Linear(), linear_data())
    trainer.fit()
    run.close()
    return trainer


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A finished run folder and its final weights."""
    path = tmp_path_factory.mktemp("linear") / "run"
    trainer = train(path)
    return path, {k: v.clone() for k, v in trainer.task.state_dict().items()}


# ways to damage a file ----------------------------------------------------------------------------------------
def truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def zero_fill(p: Path) -> None:
    p.write_bytes(bytes(p.stat().st_size))


def garble(p: Path) -> None:
    data = bytearray(p.read_bytes())
    for i in range(len(data) // 3, len(data), 7):
        data[i] ^= 0x5A
    p.write_bytes(bytes(data))


def random_bytes(p: Path, n: int = 2000) -> None:
    """n random bytes written over the middle of the file (the whole file if it is shorter)."""
    data = bytearray(p.read_bytes())
    start = max(0, len(data) // 2 - n // 2)
    data[start:start + n] = os.urandom(min(n, len(data)))
    p.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {"truncated": truncate, "zero-filled": zero_fill, "garbled": garble,
                                              "random bytes": random_bytes, "missing": Path.unlink}


# inconsistent but with checksums that match (as if written so): the checks behind the checksum -------------------
def reseal(ckpt: Path) -> None:
    sums = {name: hashlib.sha256((ckpt / name).read_bytes()).hexdigest() for name in ("tensors.safetensors",
                                                                                        "state.json")}
    (ckpt / "checksums.json").write_text(json.dumps(sums))


def edit_tensors(ckpt: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    tensors = load_file(str(ckpt / "tensors.safetensors"))
    change(tensors)
    save_file(tensors, str(ckpt / "tensors.safetensors"))


def edit_state(ckpt: Path, change: Callable[[dict], dict]) -> None:
    (ckpt / "state.json").write_text(json.dumps(change(json.loads((ckpt / "state.json").read_text()))))


INCONSISTENT: dict[str, Callable[[Path], None]] = {
    "wrong shape": lambda c: edit_tensors(c, lambda t: t.update({"model.model.weight": torch.zeros(2, 3)})),
    "nan weights": lambda c: edit_tensors(c, lambda t: t.update({"model.model.bias": torch.tensor([float("nan")])})),
    "missing weight": lambda c: edit_tensors(c, lambda t: t.pop("model.model.bias")),
    "bad torch rng": lambda c: edit_tensors(c, lambda t: t.update({"rng.torch": torch.zeros(7, dtype=torch.uint8)})),
    "empty state": lambda c: edit_state(c, lambda s: {}),
    "bad numpy rng": lambda c: edit_state(c, lambda s: {**s, "rng": {**s["rng"], "numpy": ["MT19937", "x"]}}),
    "bad python rng": lambda c: edit_state(c, lambda s: {**s, "rng": {**s["rng"], "python": [3, [1, 2], None]}}),
    "wrong step": lambda c: edit_state(c, lambda s: {**s, "step": 4}),
    "no counters": lambda c: edit_state(c, lambda s: {**s, "extra": {"count": "many"}}),
}


def damaged_copy(finished, tmp_path: Path) -> Path:
    path = tmp_path / "run"
    shutil.copytree(finished[0], path)
    return path


def assert_fell_back(path: Path, finished, capsys) -> None:
    """Resuming reports the damaged checkpoint in one line, trains on from the previous one to the same weights."""
    trainer = train(path, resume=True)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"checkpoint {path / 'checkpoints' / LAST} is damaged" in err[0]
    assert err[0].endswith(f"using {PREVIOUS}")
    assert trainer.step == 16
    for k, v in finished[1].items():
        assert torch.equal(trainer.task.state_dict()[k], v), k  # retrained from step 12: exactly the same
    kept = sorted(p.name for p in (path / "checkpoints").iterdir())
    assert kept == [f"damaged-{LAST}", PREVIOUS, LAST]  # moved aside, and written again


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("name", ["tensors.safetensors", "state.json", "checksums.json"])
def test_a_damaged_file_falls_back_to_the_previous_checkpoint(finished, tmp_path, capsys, name, how):
    path = damaged_copy(finished, tmp_path)
    DAMAGE[how](path / "checkpoints" / LAST / name)
    assert_fell_back(path, finished, capsys)


@pytest.mark.parametrize("how", INCONSISTENT)
def test_an_inconsistent_checkpoint_falls_back_even_with_matching_checksums(finished, tmp_path, capsys, how):
    path = damaged_copy(finished, tmp_path)
    INCONSISTENT[how](path / "checkpoints" / LAST)
    reseal(path / "checkpoints" / LAST)
    assert_fell_back(path, finished, capsys)


def test_no_good_checkpoint_is_a_one_line_error(finished, tmp_path):
    path = damaged_copy(finished, tmp_path)
    random_bytes(path / "checkpoints" / LAST / "tensors.safetensors")
    (path / "checkpoints" / PREVIOUS / "state.json").write_text("{}")
    with pytest.raises(CheckpointDamaged) as err:
        train(path, resume=True)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"no usable checkpoint in {path / 'checkpoints'}")
    assert f"{LAST} (tensors.safetensors does not match its checksum" in message
    assert f"{PREVIOUS} (state.json does not match its checksum" in message


def test_weights_for_sampling_come_from_the_newest_good_checkpoint(finished, tmp_path, capsys):
    path = damaged_copy(finished, tmp_path)
    zero_fill(path / "checkpoints" / LAST / "tensors.safetensors")
    model = Linear()
    used = checkpoint.load_weights(checkpoint.latest(path / "checkpoints"), model)
    assert used.name == PREVIOUS and "is damaged" in capsys.readouterr().err
    assert torch.equal(model.state_dict()["model.weight"],
                       load_file(str(used / "tensors.safetensors"))["model.model.weight"])


def test_at_least_two_checkpoints_are_kept(tmp_path):
    with pytest.raises(DlfError, match="--keep-checkpoints must be in"):
        TrainConfig(keep_checkpoints=1).validate()
    task, opt = Linear(), {}
    for step in (4, 8, 12):
        checkpoint.save(tmp_path, step, task, opt, {}, keep=1)
    assert [p.name for p in checkpoint.complete(tmp_path)] == ["step-00000008", "step-00000012"]


def test_a_torn_last_metrics_line_is_dropped_but_garbage_is_an_error(tmp_path):
    run = Run.create(tmp_path / "run", "{}")
    for step in (4, 8, 12):
        run.log(step, loss=1.0 / step)
    run.close()
    metrics = tmp_path / "run" / "metrics.jsonl"
    with open(metrics, "ab") as fh:
        fh.write(b'{"step": 16, "lo')  # a kill in the middle of a write
    assert [r["step"] for r in run.read_metrics()] == [4, 8, 12]
    run.truncate_metrics(8)
    assert metrics.read_text() == '{"step": 4, "loss": 0.25}\n{"step": 8, "loss": 0.125}\n'
    good = metrics.read_bytes()
    for garbage in (os.urandom(300) + b"\n", b'{"step": "x"}\n', b"\x00" * 40):
        metrics.write_bytes(good + garbage)
        with pytest.raises(DlfError, match="metrics.jsonl"):
            run.truncate_metrics(8)


# end to end through the CLI, on the tiny MNIST fixture ----------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory) -> tuple[Path, Path]:
    """A finished 18-step mnist-mlp run (checkpoints at 12 and 18) and its data folder."""
    data = make_mnist_fixture(tmp_path_factory.mktemp("mnist"))
    path = tmp_path_factory.mktemp("runs") / "mlp"
    assert main(["run", "mnist-mlp", "--out", str(path), "--data-dir", str(data), "--hidden", "16", "--epochs", "3",
                 "--batch-size", "32", "--ckpt-every", "6", "--lr", "3e-3", "--quiet", "--device", "cpu"]) == 0
    return path, data


def weights_range(path: Path) -> tuple[int, int]:
    """Byte range of the largest model tensor inside a safetensors file (8-byte header size, JSON header, data)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    spans = [header[k]["data_offsets"] for k in header if k.startswith("model.")]
    start, end = max(spans, key=lambda span: span[1] - span[0])
    return 8 + size + start, 8 + size + end


def test_random_bytes_in_the_weights_are_not_accepted(mnist_run, tmp_path, capsys):
    finished, data = mnist_run
    path = tmp_path / "mlp"
    shutil.copytree(finished, path)
    ckpt = checkpoint.latest(path / "checkpoints")
    start, end = weights_range(ckpt / "tensors.safetensors")
    assert end - start > 2000
    with open(ckpt / "tensors.safetensors", "r+b") as fh:
        fh.seek(start)
        fh.write(os.urandom(2000))
    for output in ("summary.json", "timing.json", "curves.png"):  # outputs, written again: their damage is harmless
        random_bytes(path / output)
    capsys.readouterr()
    assert main(["run", "mnist-mlp", "--resume", str(path), "--data-dir", str(data), "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tensors.safetensors does not match its checksum" in err[0]
    assert json.loads((path / "summary.json").read_text()) == json.loads((finished / "summary.json").read_text())


@pytest.mark.parametrize("name, damage, words", [
    ("metrics.jsonl", lambda p: p.write_bytes(p.read_bytes() + os.urandom(500)), "metrics.jsonl"),
    ("metrics.jsonl", garble, "metrics.jsonl line"),
    ("metrics.jsonl", zero_fill, "metrics.jsonl"),
    ("config.json", lambda p: p.write_bytes(p.read_bytes() + os.urandom(500)), "config.json"),
    ("config.json", lambda p: p.write_text(p.read_text().replace('"hidden": 16', '"hidden": "many"')),
     "config.json"),
    ("config.json", Path.unlink, "holds no config.json"),
    ("checkpoints", lambda p: [zero_fill(c / "state.json") for c in checkpoint.complete(p)], "no usable checkpoint"),
])
def test_a_damaged_run_file_is_a_one_line_error_naming_it(mnist_run, tmp_path, capsys, name, damage, words):
    finished, data = mnist_run
    path = tmp_path / "mlp"
    shutil.copytree(finished, path)
    damage(path / name)
    capsys.readouterr()
    assert main(["run", "mnist-mlp", "--resume", str(path), "--data-dir", str(data), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[-1] and "Traceback" not in err[-1], err


def test_ckpt_every_does_not_change_the_summary(mnist_run, tmp_path):
    finished, data = mnist_run
    assert main(["run", "mnist-mlp", "--out", str(tmp_path / "b"), "--data-dir", str(data), "--hidden", "16",
                 "--epochs", "3", "--batch-size", "32", "--ckpt-every", "1", "--lr", "3e-3", "--quiet",
                 "--device", "cpu"]) == 0
    assert (tmp_path / "b" / "summary.json").read_text() == (finished / "summary.json").read_text()

