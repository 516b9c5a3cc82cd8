"""Anything that can diverge stops with one line naming what diverged and where, before a plot, a linear-algebra
call or a sampler meets NaN: word2vec's SGD, an RL policy's weights, weights the shared Trainer would save."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlf import runner
from dlf.errors import DlfError
from dlf.experiments import cartpole, word2vec
from dlf.rl.ppo import PPO
from dlf.rundir import Run
from dlf.train import TrainConfig, Trainer, TrainingDiverged, checkpoint
from tests.test_trainer import Linear, linear_data


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """20,000 words of 50 kinds, in random order."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("w2v") / "corpus.txt"
    path.write_text(" ".join(f"w{i}" for i in rng.integers(0, 50, 20_000)))
    return path


def w2v(corpus, **changes) -> word2vec.Config:
    base = dict(corpus=str(corpus), dim=16, epochs=1, min_count=1, evaluate=False, threads=1, log_every=5000)
    return word2vec.Config(**{**base, **changes})


def test_word2vec_with_a_huge_learning_rate_stops_in_one_line(corpus, tmp_path):
    with pytest.raises(DlfError) as err:
        runner.execute("word2vec", w2v(corpus, lr=10.0), out=tmp_path / "bad", quiet=True)
    message = str(err.value)
    assert message.startswith("training diverged at word ") and "lower --lr (it was 10)" in message
    assert "\n" not in message and not (tmp_path / "bad").exists()  # nothing half-written is left
    _, summary = runner.execute("word2vec", w2v(corpus), out=tmp_path / "good", quiet=True)
    assert np.isfinite(summary["final_loss"])  # the default rate on the same corpus is fine


def test_rl_weights_that_diverge_stop_before_the_policy_acts_again(tmp_path, monkeypatch):
    learn = PPO.learn

    def learn_then_break(self, trainer):
        out = learn(self, trainer)
        if trainer.step == 2:  # the third update leaves a NaN behind while its loss was still finite
            with torch.no_grad():
                self.policy.actor[0].weight[0, 0] = float("nan")
        return out

    monkeypatch.setattr(PPO, "learn", learn_then_break)
    cfg = cartpole.Config(env_steps=2048, update_epochs=1, eval_every=10**6, eval_episodes=5, gif=False, threads=1)
    with pytest.raises(TrainingDiverged, match="diverged at update 3: the policy's weights hold NaN"):
        runner.execute("cartpole", cfg, out=tmp_path / "rl", quiet=True)


class BreaksItsWeights(Linear):
    """A finite loss every step, but the update of step 8 (a checkpoint step) leaves an infinite weight behind."""

    def optimizer_step(self, batch, trainer):
        metrics = trainer.default_step(batch)
        if trainer.step + 1 == 8:
            with torch.no_grad():
                self.model.bias.fill_(float("inf"))
        return metrics


def test_the_trainer_never_checkpoints_weights_that_diverged(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.01, ckpt_every=4, device="cpu")
    run = Run.create(tmp_path / "run", "{}")
    with pytest.raises(TrainingDiverged, match="diverged at step 8: model.bias holds NaN or inf"):
        Trainer(cfg, run, BreaksItsWeights(), linear_data()).fit()
    assert [p.name for p in checkpoint.complete(tmp_path / "run" / "checkpoints")] == ["step-00000004"]
