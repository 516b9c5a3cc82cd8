"""The options of an RL run; `dlf run cartpole --help` lists them. The shared Trainer gets its settings from here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dlf.config import BaseConfig, Device, require
from dlf.train import TrainConfig


@dataclass
class RLConfig(BaseConfig):
    algo: Literal["ppo", "reinforce"] = "ppo"
    """Learning rule: ppo (clipped surrogate, GAE) or reinforce (the plain policy gradient with a learned baseline)."""
    env: Literal["CartPole-v1", "Acrobot-v1"] = "CartPole-v1"
    """Gymnasium environment."""
    seeds: int = 1
    """Train seeds --seed ... --seed + N - 1 one after another (5 for curves with a spread)."""
    env_steps: int = 100_000
    """Budget of environment steps per seed; a seed stops earlier once solved."""
    num_envs: int = 8
    """Environments stepped together (reinforce: episodes per update)."""
    n_steps: int = 32
    """ppo: steps of each environment per rollout (num_envs * n_steps transitions per update)."""
    update_epochs: int = 20
    """ppo: passes over each rollout."""
    batch_size: int = 128
    """ppo: transitions per gradient step (minibatch)."""
    lr: float = 3e-3
    """Adam learning rate (at the start, see --schedule)."""
    schedule: Literal["constant", "linear"] = "linear"
    """Learning rate: constant, or linear decay to 0 over --env-steps."""
    gamma: float = 0.98
    """Discount factor of future rewards."""
    gae_lambda: float = 0.9
    """ppo: GAE lambda (0: one-step TD error, 1: Monte Carlo return minus baseline)."""
    clip: float = 0.2
    """ppo: clip the probability ratio to [1 - clip, 1 + clip]."""
    vf_coef: float = 0.5
    """Weight of the critic's squared error in the loss."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus (exploration)."""
    grad_clip: float = 0.5
    """Clip the gradient's global norm to this value (0: off)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the actor and of the critic (tanh)."""
    eval_every: int = 1024
    """Evaluate the greedy policy every N environment steps (after the update that crosses N)."""
    eval_episodes: int = 100
    """Episodes in an evaluation; solved = their mean return reaches --solve-return."""
    solve_return: float | None = None
    """Mean evaluation return that counts as solved (None: Gymnasium's threshold, 475 for CartPole-v1)."""
    max_steps: int = 0
    """Stop each seed after this many updates if > 0 (a dry run: --max-steps 2)."""
    log_every: int = 10
    """Write the losses to metrics.jsonl every N updates (returns are written every update)."""
    ckpt_every: int = 50
    """Checkpoint every N updates (the environments restart their episodes there, so resuming is exact)."""
    gif: bool = True
    """Render one greedy episode of the trained agent (first seed) as episode.gif."""
    device: Device = "cpu"
    """Where to compute: the networks are tiny, so cpu is fastest."""
    threads: int = 0
    """torch CPU threads during the run (0: torch's default); 1 is often fastest for networks this small."""

    def validate(self) -> None:
        super().validate()
        for name in ("seeds", "env_steps", "num_envs", "n_steps", "update_epochs", "batch_size", "eval_every",
                     "eval_episodes", "log_every", "ckpt_every"):
            require(getattr(self, name) >= 1, name, "must be >= 1", getattr(self, name))
        require(self.lr > 0, "lr", "must be > 0", self.lr)
        require(0 < self.gamma <= 1, "gamma", "must be in (0, 1]", self.gamma)
        require(0 <= self.gae_lambda <= 1, "gae_lambda", "must be in [0, 1]", self.gae_lambda)
        require(self.clip > 0, "clip", "must be > 0", self.clip)
        require(self.vf_coef >= 0, "vf_coef", "must be >= 0", self.vf_coef)
        require(self.ent_coef >= 0, "ent_coef", "must be >= 0", self.ent_coef)
        require(self.grad_clip >= 0, "grad_clip", "must be >= 0", self.grad_clip)
        require(len(self.hidden) >= 1 and min(self.hidden) >= 1, "hidden", "must be sizes >= 1, e.g. 64,64",
                self.hidden)
        require(self.max_steps >= 0, "max_steps", "must be >= 0", self.max_steps)
        require(self.threads >= 0, "threads", "must be >= 0", self.threads)
        if self.algo == "ppo":
            rollout = self.num_envs * self.n_steps
            require(self.batch_size <= rollout, "batch_size", f"must be <= num_envs * n_steps = {rollout}",
                    self.batch_size)

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
