"""Returns-to-go and generalised advantage estimation (GAE): what each action was worth.

A rollout is stored as T steps of N environments, rows = time. Step t went from s_t to s_{t+1} with reward r_t;
`terminated` marks a real end (the pole fell: nothing follows, V(end) = 0); `done` = terminated or truncated,
where truncated means the time limit cut the episode short (the state still has a value, so we bootstrap it).
`values` has T + 1 rows: V(s_0) ... V(s_T), the last one for the state after the rollout.

Returns-to-go (Monte Carlo, what REINFORCE uses):

    G_t = r_t + gamma * G_{t+1}                       inside an episode
    G_t = r_t                                         if the episode terminated at t
    G_t = r_t + gamma * V(s_{t+1})                    if the time limit cut it at t
    G_T = V(s_T)                                      after the last row (the rollout stopped mid-episode)

GAE (Schulman et al. 2016, "High-dimensional continuous control using generalized advantage estimation", eq. 16):

    delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)        the one-step TD error
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},   A_T = 0

lambda = 0 gives the TD error, lambda = 1 gives G_t - V(s_t); the critic's target is A_t + V(s_t).
"""

from __future__ import annotations

import torch


def returns_to_go(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor, done: torch.Tensor,
                  gamma: float) -> torch.Tensor:
    """G_t for every step, computed backwards. rewards, terminated, done: (T, N); values: (T + 1, N)."""
    term, done = terminated.to(rewards.dtype), done.to(rewards.dtype)
    out = torch.empty_like(rewards)  # (T, N)
    g = values[-1]  # (N,)
    for t in range(rewards.shape[0] - 1, -1, -1):
        cut = done[t] - term[t]  # 1 where the time limit ended the episode
        g = rewards[t] + gamma * ((1 - done[t]) * g + cut * values[t + 1])
        out[t] = g
    return out


def gae(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor, done: torch.Tensor,
        gamma: float, lam: float) -> torch.Tensor:
    """A_t for every step, computed backwards. rewards, terminated, done: (T, N); values: (T + 1, N)."""
    term, done = terminated.to(rewards.dtype), done.to(rewards.dtype)
    delta = rewards + gamma * (1 - term) * values[1:] - values[:-1]  # (T, N)
    out = torch.empty_like(rewards)
    a = torch.zeros_like(values[-1])  # (N,)
    for t in range(rewards.shape[0] - 1, -1, -1):
        a = delta[t] + gamma * lam * (1 - done[t]) * a
        out[t] = a
    return out


def normalize(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / std: the advantages' scale stops depending on the reward scale (one value stays as it is)."""
    if x.numel() < 2:
        return x
    return (x - x.mean()) / (x.std() + eps)
