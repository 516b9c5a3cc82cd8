"""Every training experiment reports its throughput and peak memory in timing.json.

The mechanism: a Trainer counts the units of every step (Task.unit, Task.units) into its Run, experiments without
the Trainer count theirs with Run.count, and runner.execute writes Run.throughput() and the peak memory. The sweep
runs every registered experiment but the ones that train nothing, tiny, and reads its timing.json: a new
experiment that forgets to count fails here.
"""

from __future__ import annotations

import json
import time

import pytest
import torch

from dlf import registry
from dlf.rundir import Run
from dlf.runner import execute
from dlf.train import Task, TensorSource, TrainConfig, Trainer

NOT_TRAINING = {"activations"}  # plots functions; it trains nothing
UNIT = {"char-rnn": "characters", "sentiment-unit": "characters", "word2vec": "words", "cartpole": "env_steps"}


def test_count_adds_up_and_reports_the_first_unit(tmp_path):
    run = Run(tmp_path)
    assert run.throughput() == {}
    run.count("characters", 1000, 0.5)
    run.count("characters", 3000, 1.5)
    run.count("examples", 10, 2.0)
    assert run.throughput() == {"throughput_unit": "characters", "throughput_per_s": 2000.0,
                                "throughput_units": 4000, "examples_per_s": 5.0}


class Chunks(Task):
    """A linear model on rows of 3 numbers, counting 3 'characters' per example, with a slow validation."""

    unit = "characters"

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 1)

    def units(self, batch, batch_size: int) -> int:
        return batch_size * batch[0].shape[1]

    def training_step(self, batch):
        x, y = batch
        return {"loss": (self.lin(x).squeeze(-1) - y).pow(2).mean()}

    def validation_step(self, batch):
        time.sleep(0.2)
        return super().validation_step(batch)


def test_trainer_counts_the_tasks_units_and_leaves_evaluation_out(tmp_path):
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(seed=0, device="cpu", epochs=2, batch_size=16, lr=0.01, eval_every=4, log_every=4,
                      ckpt_every=100)
    run = Run(tmp_path)
    start = time.perf_counter()
    Trainer(cfg, run, Chunks(), TensorSource(x, x.sum(1)), TensorSource(x, x.sum(1))).fit()
    wall = time.perf_counter() - start
    units, seconds = run.counted["characters"]
    assert units == 8 * 16 * 3  # 8 steps of 16 examples of 3 characters
    assert 0 < seconds < wall - 0.35, "the two slow evaluations (0.2 s each) must not count as training time"
    out = run.throughput()
    assert out["throughput_unit"] == "characters" and out["throughput_per_s"] == pytest.approx(units / seconds, 1e-3)


OWN_RUNS = ("neuron", "linreg", "gradient-descent", "universality", "backprop", "mnist-rnn", "sentiment-unit")
"""The experiments that tests.run_fixtures does not train: this file trains them (tiny, but slow in sum)."""


def tiny_config(name: str, root):
    from dlf.experiments import backprop, gradient_descent, linreg, mnist_rnn, neuron, sentiment_unit, universality
    from tests.test_sentiment_unit import make_sentiment_fixture

    def sentiment():
        folder = make_sentiment_fixture(root / "sentiment-data")
        return sentiment_unit.Config(reviews=str(folder / "movie_reviews.jsonl"), device="cpu", hidden=8, embed=8,
                                     batch_size=4, seq_len=16, max_steps=4, eval_every=2, val_chunk=64, folds=2,
                                     jobs=1, time_limit=0)

    return {
        "neuron": lambda: neuron.Config(points=20, steps=20),
        "linreg": lambda: linreg.Config(points=20, multi_points=20, max_steps=50),
        "gradient-descent": lambda: gradient_descent.Config(points=64, epochs=1, records_per_epoch=2),
        "universality": lambda: universality.Config(device="cpu", widths=(2,), activations=("tanh",), steps=5,
                                                    points=16),
        "backprop": lambda: backprop.Config(data="spiral", steps=3, hidden=4, spiral_points=20),
        "mnist-rnn": lambda: mnist_rnn.Config(hidden=8, epochs=1, batch_size=50, device="cpu"),
        "sentiment-unit": sentiment,
    }[name]()


@pytest.mark.parametrize("name", [pytest.param(e.name, marks=[pytest.mark.slow] if e.name in OWN_RUNS else [])
                                  for e in registry.EXPERIMENTS if e.name not in NOT_TRAINING])
def test_every_training_experiment_reports_throughput_and_peak_memory(name, tiny_runs, one_torch_thread):
    if name in OWN_RUNS:
        path = tiny_runs.root / f"timing-{name}"
        execute(name, tiny_config(name, tiny_runs.root), path, data_dir=tiny_runs.data, quiet=True)
    else:  # the session's shared tiny runs, which other tests read too; a new experiment belongs there or above
        path = tiny_runs.get(name)[name]
    timing = json.loads((path / "timing.json").read_text(encoding="utf-8"))
    assert timing.get("throughput_unit") == UNIT.get(name, "examples"), f"{name}: {sorted(timing)}"
    assert timing["throughput_per_s"] > 0 and timing["throughput_units"] > 0
    assert timing["peak_rss_mb"] > 50  # a Python process with torch loaded holds more than this
