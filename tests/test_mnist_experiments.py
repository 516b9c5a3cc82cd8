"""The MNIST experiments end to end on a tiny generated fixture (and on the real set when DLF_DATA_DIR has it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from dlf.cli import main
from dlf.experiments import _mnist, mnist_cnn, mnist_mlp, mnist_rnn
from dlf.runner import execute
from dlf.train import Trainer
from tests.fixtures import make_mnist_fixture

PLOTS = {"curves.png", "confusion.png", "misclassified.png", "shift.png"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_mnist_fixture(tmp_path_factory.mktemp("mnist"), n_train=600, n_test=200)


@pytest.mark.parametrize("module, options", [
    (mnist_mlp, {"hidden": 64, "epochs": 6.0}),
    (mnist_cnn, {"width": 8, "epochs": 6.0}),
    (mnist_rnn, {"hidden": 32, "epochs": 6.0, "lr": 5e-3}),
], ids=["mlp", "cnn", "rnn"])
def test_each_classifier_learns_and_writes_its_report(module, options, data, tmp_path):
    name = module.__name__.rsplit(".", 1)[1].replace("_", "-")
    cfg = module.Config(batch_size=32, device="cpu", log_every=5, **options)
    run, summary = execute(name, cfg, tmp_path / name, data_dir=data, quiet=True)
    rows = run.read_metrics()
    losses = [r["train_loss"] for r in rows if "train_loss" in r]
    assert losses[-1] < 0.5 * losses[0], "the training loss should fall"
    assert summary["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    assert summary["steps"] == 6 * (600 // 32)
    assert {p.name for p in run.path.glob("*.png")} >= PLOTS
    assert all(0 <= summary[f"shift_acc_{k}"] <= 1 for k in _mnist.SHIFTS)


def test_shift_moves_pixels_and_fills_background():
    img = torch.zeros(1, 28, 28, dtype=torch.uint8)
    img[0, 10, 10] = 255
    assert _mnist.shift(img, 3, -2)[0, 8, 13] == 255
    assert _mnist.shift(img, 3, -2).sum() == 255
    assert _mnist.shift(img, 0, 0).equal(img)
    moved = _mnist.random_shift(img.expand(50, 28, 28).clone())
    assert (moved.flatten(1).sum(1) == 255).all()  # a 2-pixel move never pushes the dot out
    assert len({tuple(m.nonzero()[0].tolist()) for m in moved}) > 5


def test_confusion_matrix_counts():
    pred, labels = torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2])
    cm = _mnist.confusion_matrix(pred, labels, n=3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_compare_plots_several_runs_and_rejects_other_runs(data, tmp_path, capsys):
    cfg = mnist_mlp.Config(hidden=16, epochs=1, batch_size=50, device="cpu")
    execute("mnist-mlp", cfg, tmp_path / "mlp", data_dir=data, quiet=True)
    execute("activations", None, tmp_path / "act", quiet=True)
    assert main(["compare", str(tmp_path / "mlp"), "--out", str(tmp_path / "cmp.png")]) == 0
    assert (tmp_path / "cmp.png").stat().st_size > 0
    assert main(["compare", str(tmp_path / "act")]) == 2
    assert "without shift accuracies" in capsys.readouterr().err


def test_shift_labels_say_how_each_run_was_trained():
    label = _mnist.shift_label
    assert label({"experiment": "mnist-cnn", "augment": True, "epochs": 2.0}) == "mnist-cnn, shift-augmented, 2 epochs"
    assert label({"experiment": "mnist-mlp", "augment": False, "epochs": 5.0, "max_steps": 0}) == \
        "mnist-mlp, no augmentation, 5 epochs"
    assert label({"experiment": "mnist-mlp", "augment": False, "epochs": 5.0, "max_steps": 10}) == \
        "mnist-mlp, no augmentation"  # a run cut short by --max-steps did not see its epochs
    assert label({"experiment": "mnist-cnn", "augment": True, "epochs": 1.0}) == "mnist-cnn, shift-augmented, 1 epoch"


def test_missing_data_is_one_line_naming_the_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DLF_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "run"
    assert main(["run", "mnist-mlp", "--data-dir", str(tmp_path / "empty"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dlf data download mnist" in err[0]
    assert not out.exists(), "a failed start leaves no half-written run folder"


@pytest.mark.full_data
@pytest.mark.skipif(not os.environ.get("DLF_DATA_DIR"), reason="needs the full MNIST: set DLF_DATA_DIR")
def test_mlp_on_real_mnist(tmp_path):
    cfg = mnist_mlp.Config(hidden=128, epochs=1, batch_size=128, lr=3e-3, device="cpu", log_every=100)
    run, summary = execute("mnist-mlp", cfg, tmp_path / "mlp", quiet=True)
    assert summary["test_accuracy"] > 0.95
    assert summary["shift_acc_4"] < summary["shift_acc_0"] - 0.2  # an MLP is not translation invariant
    assert json.loads((run.path / "config.json").read_text())["hidden"] == 128


def _bench_mnist():
    from tests.helpers import load_script

    load_script("benchmarks/_protocol.py", "_protocol")  # what the benchmark imports by that name
    return load_script("benchmarks/bench_mnist_cnn.py", "bench_mnist_cnn")


def test_benchmark_evaluates_dlf_every_quarter_epoch_off_the_clock(data, monkeypatch):
    """The time-to-accuracy clock stops while the test set is scored. A fake clock makes it exact: each training
    step takes 1 s and each evaluation batch 100 s, so the clock must read 3, 6, 9, 12 s at the evaluations."""
    bench = _bench_mnist()
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    train_step = _mnist.Classifier.training_step

    def step(self, batch):
        clock.now += 1.0 if self.training else 100.0  # validation_step calls training_step in eval mode
        return train_step(self, batch)

    monkeypatch.setattr(_mnist.Classifier, "training_step", step)
    options = {"width": 4, "batch_size": 50, "epochs": 1.0, "augment": False, "train_size": 600}
    out = bench.run_dlf(0.5, 0.25, data, options)
    assert [h[0] for h in out["history"]] == [3, 6, 9, 12]  # 12 steps an epoch, scored every 3
    assert [h[1] for h in out["history"]] == [3.0, 6.0, 9.0, 12.0], "evaluation time leaked into the clock"
    assert out["evaluations"] == 4 and out["eval_seconds"] == 4 * 100.0  # 200 test images: one batch each
    assert out["train_seconds"] == 12.0 and out["images_per_s"] == 600 / 12.0
    assert Trainer.fit.__name__ == "fit" and Trainer.evaluate.__name__ == "evaluate"  # its patches are undone


def test_benchmark_scores_the_example_recipe_at_the_same_cadence(data):
    bench = _bench_mnist()
    out = bench.run_example(1.01, 1, 0.25, data)  # an unreachable target: one whole epoch
    assert [h[0] for h in out["history"]] == [2, 4, 6, 8, 10]  # ceil(600 / 64) = 10 steps, scored every 2
    assert out["seconds_to_target"] is None and out["evaluations"] == 5
    assert 0 <= out["final_accuracy"] <= 1 and out["eval_seconds"] > 0
