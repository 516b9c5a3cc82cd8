"""An RL agent as a Task of the shared Trainer: one trainer step = collect experience, then learn from it.

    for update in Trainer:                  seeding, checkpoints (with this agent's counters), Ctrl-C, resume
        rollout = act in the environments   (PPO: n_steps of N envs; REINFORCE: one whole episode per env)
        learn(rollout)                      (the algorithm's loss and optimizer steps)
        every eval_every env steps: evaluate the greedy policy; stop when solved

Subclasses write `learn(trainer) -> metrics`; everything they share (environments, the evaluation rule, the
learning-rate schedule over environment steps, counters, logging) lives here.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from dlf.rl import envs as rl_envs
from dlf.rl.config import RLConfig
from dlf.rl.policy import ActorCritic
from dlf.rl.rollout import Collector, Rollout
from dlf.train import Task, TrainingDiverged

EVAL_SEED = 1_000_000  # evaluation episodes start from seeds unlike any training seed


class Agent(Task):
    """The policy, its environments and the bookkeeping of one seed's training."""

    def __init__(self, cfg: RLConfig, seed: int):
        super().__init__()
        obs_dim, n_actions = rl_envs.sizes(cfg.env)
        self.cfg, self.seed = cfg, seed
        self.policy = ActorCritic(obs_dim, n_actions, cfg.hidden)
        self.threshold = cfg.solve_return if cfg.solve_return is not None else rl_envs.threshold(cfg.env)
        self.env_steps, self.updates, self.episodes = 0, 0, 0
        self.next_eval = cfg.eval_every
        self.solved_at: int | None = None  # environment steps when solved
        self.evals: list[tuple[int, float]] = []  # (env steps, mean greedy return)
        self.eval_s, self.solve_wall_s = 0.0, None
        self._wall_before, self._clock = 0.0, time.perf_counter()
        self._envs = self._collector = self._evaluator = None

    # the environments (not module state: built on demand; their state travels in checkpoints as JSON) -------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def collector(self) -> Collector:
        if self._collector is None:
            self._envs = rl_envs.make_vec(self.cfg.env, self.cfg.num_envs)
            self._collector = Collector(self._envs, self.device)
        return self._collector

    def evaluator(self) -> rl_envs.Evaluator:
        if self._evaluator is None:
            self._evaluator = rl_envs.Evaluator(self.cfg.env, self.cfg.eval_episodes, EVAL_SEED + self.seed)
        return self._evaluator

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """The evaluation policy: argmax_a pi(a | s), observations (N, D) -> actions (N,)."""
        self.policy.eval()
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return self.policy.act(obs_t, greedy=True).cpu().numpy()

    def ready_collector(self, trainer) -> Collector:
        """The collector, its episodes started (seeded by the agent's seed) on first use.

        After that the episodes run on across updates and checkpoints: a checkpoint stores the environments'
        state (state_json), so a resumed run continues exactly, and --ckpt-every never changes training.
        """
        collector = self.collector()
        if collector.obs is None:
            collector.reset(self.seed * 1_000_003 + trainer.step)
        return collector

    # the Trainer's contract ------------------------------------------------------------------------------------
    def configure_optimizers(self, cfg) -> dict[str, torch.optim.Optimizer]:
        fused = self.device.type in ("cpu", "cuda")  # one kernel for all parameters: ~1.6x faster steps
        return {"adam": torch.optim.Adam(self.parameters(), lr=cfg.lr, eps=1e-5, fused=fused)}

    def learn(self, trainer) -> tuple[Rollout, dict[str, torch.Tensor]]:
        """Collect a rollout and update the networks; return it and the losses (tensors)."""
        raise NotImplementedError

    def set_lr(self, trainer) -> None:
        """Linear decay over the environment-step budget (the Trainer's own schedule is kept constant)."""
        if self.cfg.schedule == "linear":
            factor = max(0.0, 1.0 - self.env_steps / self.cfg.env_steps)
            for opt in trainer.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = self.cfg.lr * factor

    def optimizer_step(self, batch, trainer) -> dict[str, torch.Tensor]:
        rollout, metrics = self.learn(trainer)
        if not torch.stack([p.isfinite().all() for p in self.parameters()]).all():  # before they act again
            raise TrainingDiverged(f"training diverged at update {trainer.step + 1}: the policy's weights hold NaN "
                                   "or inf; lower --lr or set --grad-clip")
        self.updates += 1
        self.episodes += len(rollout.episode_returns)
        step = trainer.step + 1
        record = {"env_steps": self.env_steps, "episodes": self.episodes,
                  "episode_return": float(np.mean(rollout.episode_returns)) if rollout.episode_returns else None,
                  "episode_length": float(np.mean(rollout.episode_lengths)) if rollout.episode_lengths else None}
        last = step >= trainer.total_steps or self.env_steps >= self.cfg.env_steps
        if self.env_steps >= self.next_eval or last:
            record.update(self.evaluate())
        trainer.run.log(step, **record)
        if self.solved_at is not None and self.solve_wall_s is None:
            self.solve_wall_s = self.elapsed()
        return metrics

    def evaluate(self) -> dict[str, float]:
        start = time.perf_counter()
        returns = self.evaluator()(self.greedy)
        self.policy.train()
        self.eval_s += time.perf_counter() - start
        mean = float(returns.mean())
        self.evals.append((self.env_steps, mean))
        while self.next_eval <= self.env_steps:
            self.next_eval += self.cfg.eval_every
        if mean >= self.threshold and self.solved_at is None:
            self.solved_at = self.env_steps
        return {"eval_return": mean, "eval_return_min": float(returns.min())}

    def elapsed(self) -> float:
        """Seconds since this seed started training (over resumes: the time before the checkpoint is kept)."""
        return self._wall_before + time.perf_counter() - self._clock

    def should_stop(self) -> bool:
        return self.solved_at is not None or self.env_steps >= self.cfg.env_steps

    def state_json(self) -> dict:
        return {"env_steps": self.env_steps, "updates": self.updates, "episodes": self.episodes,
                "next_eval": self.next_eval, "solved_at": self.solved_at, "evals": self.evals,
                "wall_s": self.elapsed(), "eval_s": self.eval_s, "solve_wall_s": self.solve_wall_s,
                "collector": self._collector.state_json() if self._collector is not None else {}}

    def load_state_json(self, state: dict) -> None:
        for key in ("env_steps", "updates", "episodes", "next_eval", "solved_at", "eval_s", "solve_wall_s"):
            setattr(self, key, state[key])
        self.evals = [tuple(e) for e in state["evals"]]
        self._wall_before, self._clock = state["wall_s"], time.perf_counter()
        if state.get("collector"):
            self.collector().load_state_json(state["collector"])

    def close(self) -> None:
        for env in (self._envs, self._evaluator):
            if env is not None:
                env.close()
