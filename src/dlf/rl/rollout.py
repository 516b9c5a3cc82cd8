"""Rollouts: let the policy act in N vectorised environments and record what happened.

A rollout holds T steps of N environments (rows = time) and the observation after the last step:

    obs (T + 1, N, D)   actions, rewards, terminated, done, valid (T, N)

`valid` is False for the steps that only reset a finished environment (gymnasium's NEXT_STEP autoreset): they
are no transition, so they are neither learned from nor counted as environment steps. When an episode ends at
step t, obs[t + 1] is its true final observation, which is what a time-limit bootstrap needs (see returns.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dlf.rl import envs as rl_envs
from dlf.rl.policy import ActorCritic


@dataclass
class Rollout:
    obs: torch.Tensor  # (T + 1, N, D) float32
    actions: torch.Tensor  # (T, N) int64
    rewards: torch.Tensor  # (T, N) float32
    terminated: torch.Tensor  # (T, N) bool
    done: torch.Tensor  # (T, N) bool: terminated or truncated
    valid: torch.Tensor  # (T, N) bool: a real transition
    episode_returns: list[float] = field(default_factory=list)  # of the episodes that ended in this rollout
    episode_lengths: list[int] = field(default_factory=list)

    @property
    def env_steps(self) -> int:
        return int(self.valid.sum())


class Collector:
    """Steps N environments with a policy, carrying the last observation and running episode totals across calls."""

    def __init__(self, envs, device: torch.device):
        self.envs, self.device = envs, device
        self.obs: np.ndarray | None = None  # (N, D)

    def reset(self, seed: int) -> None:
        """Start fresh episodes in every copy, seeded (copy i gets its own start state)."""
        self.obs, _ = self.envs.reset(seed=seed)
        n = len(self.obs)
        self.prev_done = np.zeros(n, dtype=bool)
        self.ep_return, self.ep_length = np.zeros(n), np.zeros(n, dtype=np.int64)

    def state_json(self) -> dict:
        """The environments' state and the episodes in progress (for checkpoints); {} before the first reset."""
        if self.obs is None:
            return {}
        return {"envs": rl_envs.get_state(self.envs), "obs": self.obs.tolist(), "prev_done": self.prev_done.tolist(),
                "ep_return": self.ep_return.tolist(), "ep_length": self.ep_length.tolist()}

    def load_state_json(self, state: dict) -> None:
        """Continue exactly where state_json was taken (float32 observations round-trip exactly through JSON)."""
        if not state:
            return
        self.envs.reset(seed=0)  # a first reset, which gymnasium requires before its state can be set
        rl_envs.set_state(self.envs, state["envs"])
        self.obs = np.array(state["obs"], dtype=np.float32)
        self.prev_done = np.array(state["prev_done"], dtype=bool)
        self.ep_return, self.ep_length = np.array(state["ep_return"]), np.array(state["ep_length"], dtype=np.int64)

    def collect(self, policy: ActorCritic, steps: int | None, first_episode_only: bool = False) -> Rollout:
        """`steps` steps of every copy; or, with first_episode_only, until each copy has finished one episode."""
        assert self.obs is not None, "call reset(seed) first"
        n = len(self.obs)
        rows: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "rew", "term", "done", "valid")}
        finished = np.zeros(n, dtype=bool)
        returns, lengths = [], []
        t = 0
        while (steps is None or t < steps) and not (first_episode_only and finished.all()):
            obs_t = torch.as_tensor(self.obs, dtype=torch.float32, device=self.device)  # (N, D)
            actions = policy.act(obs_t).cpu().numpy()  # (N,)
            next_obs, reward, terminated, truncated, _ = self.envs.step(actions)
            done = terminated | truncated
            valid = ~self.prev_done & ~finished
            self.ep_return += reward * valid
            self.ep_length += valid
            ended = done & valid
            returns += self.ep_return[ended].tolist()
            lengths += self.ep_length[ended].tolist()
            self.ep_return[ended], self.ep_length[ended] = 0.0, 0
            if first_episode_only:
                finished |= ended
            for key, value in zip(rows, (self.obs, actions, reward, terminated, done, valid)):
                rows[key].append(value)
            self.obs, self.prev_done, t = next_obs, done, t + 1
        rows["obs"].append(self.obs)
        return self._to_rollout(rows, returns, lengths)

    @staticmethod
    def _to_rollout(rows: dict[str, list[np.ndarray]], returns: list[float], lengths: list[int]) -> Rollout:
        def stack(key: str, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.stack(rows[key]), dtype=dtype)

        return Rollout(obs=stack("obs", torch.float32), actions=stack("act", torch.int64),
                       rewards=stack("rew", torch.float32), terminated=stack("term", torch.bool),
                       done=stack("done", torch.bool), valid=stack("valid", torch.bool),
                       episode_returns=returns, episode_lengths=lengths)
