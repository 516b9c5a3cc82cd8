"""The options of an RL run; `dlf run cartpole --help` lists them. The shared Trainer gets its settings from here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from dlf.config import BaseConfig, Device, Range, require, train_bytes
from dlf.train import TrainConfig


@dataclass
class RLConfig(BaseConfig):
    algo: Literal["ppo", "reinforce"] = "ppo"
    """Learning rule: ppo (clipped surrogate, GAE) or reinforce (the plain policy gradient with a learned baseline)."""
    env: Literal["CartPole-v1", "Acrobot-v1"] = "CartPole-v1"
    """Gymnasium environment."""
    seeds: Annotated[int, Range(1, 1000)] = 1
    """Train seeds --seed ... --seed + N - 1 one after another (5 for curves with a spread)."""
    env_steps: Annotated[int, Range(1, 10**9)] = 100_000
    """Budget of environment steps per seed; a seed stops earlier once solved."""
    num_envs: Annotated[int, Range(1, 4096)] = 8
    """Environments stepped together (reinforce: episodes per update)."""
    n_steps: Annotated[int, Range(1, 100_000)] = 32
    """ppo: steps of each environment per rollout (num_envs * n_steps transitions per update)."""
    update_epochs: Annotated[int, Range(1, 10_000)] = 20
    """ppo: passes over each rollout."""
    batch_size: Annotated[int, Range(1, 10**7)] = 128
    """ppo: transitions per gradient step (minibatch)."""
    lr: Annotated[float, Range(0, 100, low_open=True)] = 3e-3
    """Adam learning rate (at the start, see --schedule)."""
    schedule: Literal["constant", "linear"] = "linear"
    """Learning rate: constant, or linear decay to 0 over --env-steps."""
    gamma: Annotated[float, Range(0, 1, low_open=True)] = 0.98
    """Discount factor of future rewards."""
    gae_lambda: Annotated[float, Range(0, 1)] = 0.9
    """ppo: GAE lambda (0: one-step TD error, 1: Monte Carlo return minus baseline)."""
    clip: Annotated[float, Range(0, 100, low_open=True)] = 0.2
    """ppo: clip the probability ratio to [1 - clip, 1 + clip]."""
    vf_coef: Annotated[float, Range(0, 1e6)] = 0.5
    """Weight of the critic's squared error in the loss."""
    ent_coef: Annotated[float, Range(0, 1e6)] = 0.0
    """Weight of the entropy bonus (exploration)."""
    grad_clip: Annotated[float, Range(0, 1e6)] = 0.5
    """Clip the gradient's global norm to this value (0: off)."""
    hidden: Annotated[tuple[int, ...], Range(1, 65_536)] = (64, 64)
    """Hidden layer sizes of the actor and of the critic (tanh)."""
    eval_every: Annotated[int, Range(1, 10**9)] = 1024
    """Evaluate the greedy policy every N environment steps (after the update that crosses N)."""
    eval_episodes: Annotated[int, Range(1, 100_000)] = 100
    """Episodes in an evaluation; solved = their mean return reaches --solve-return."""
    solve_return: Annotated[float | None, Range(-1e9, 1e9)] = None
    """Mean evaluation return that counts as solved (None: Gymnasium's threshold, 475 for CartPole-v1)."""
    max_steps: Annotated[int, Range(0, 10**9)] = 0
    """Stop each seed after this many updates if > 0 (a dry run: --max-steps 2)."""
    log_every: Annotated[int, Range(1, 10**9)] = 10
    """Write the losses to metrics.jsonl every N updates (returns are written every update)."""
    ckpt_every: Annotated[int, Range(1, 10**9)] = 50
    """Checkpoint every N updates (with the environments' state: resuming is exact, training is unchanged)."""
    gif: bool = True
    """Render one greedy episode of the trained agent (first seed) as episode.gif."""
    device: Device = "cpu"
    """Where to compute: the networks are tiny, so cpu is fastest."""
    threads: Annotated[int, Range(0, 1024)] = 1
    """torch CPU threads during the run (0: torch's default, one per core). The thread count changes the rounding
    of every matrix product, so a seed repeats its numbers only with the same --threads; 1 is also fastest here."""

    checkpoints: ClassVar[bool] = True

    def validate(self) -> None:
        super().validate()
        if self.algo == "ppo":
            rollout = self.num_envs * self.n_steps
            require(self.batch_size <= rollout, "batch_size", f"must be <= num_envs * n_steps = {rollout}",
                    self.batch_size)

    def memory_bytes(self) -> tuple[float, str]:
        """A ppo rollout (observations, actions, values...) and the networks' activations over it."""
        width = max(self.hidden) * len(self.hidden)
        rollout = self.num_envs * (self.n_steps if self.algo == "ppo" else 500)  # reinforce: whole episodes
        return train_bytes(2 * width * width, rollout * (16 + 2 * width)), "--num-envs, --n-steps or --hidden"

    @property
    def rollout_size(self) -> int:
        """Transitions per ppo update."""
        return self.num_envs * self.n_steps

    @property
    def max_updates(self) -> int:
        """Updates the budget allows: exact for ppo; for reinforce an upper bound (episodes last >= 1 step)."""
        per_update = self.rollout_size if self.algo == "ppo" else self.num_envs
        n = math.ceil(self.env_steps / per_update)
        return min(n, self.max_steps) if self.max_steps else n

    def train_config(self, seed: int) -> TrainConfig:
        """Settings for the shared Trainer: one trainer step is one update (a rollout and learning from it)."""
        return TrainConfig(seed=seed, device=self.device, epochs=float(self.max_updates), max_steps=0,
                           batch_size=self.rollout_size if self.algo == "ppo" else self.num_envs,
                           optimizer="adam", lr=self.lr, schedule="constant", grad_clip=self.grad_clip,
                           log_every=self.log_every, ckpt_every=self.ckpt_every, amp=False)
