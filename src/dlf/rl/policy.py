"""The agent's networks: a categorical policy pi(a | s) and a value function V(s), two small MLPs.

    logits = actor(s),   pi(a | s) = softmax(logits)_a,   V(s) = critic(s)

The actor decides, the critic judges: V(s) estimates the return expected from s, and is the baseline that
turns a return into an advantage. Actor and critic share no layers, so the critic's loss cannot disturb the
policy. Weights start orthogonal (the last policy layer scaled by 0.01, so that the first policy is nearly
uniform), as in most PPO implementations.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int, out_gain: float) -> nn.Sequential:
    """Linear-tanh layers, then a linear output; orthogonal weights, zero biases."""
    layers: list[nn.Module] = []
    sizes = (n_in, *hidden)
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    layers.append(nn.Linear(sizes[-1], n_out))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            gain = out_gain if layer is layers[-1] else math.sqrt(2)
            nn.init.orthogonal_(layer.weight, gain)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """pi(a | s) over `n_actions` discrete actions and V(s), for observations of `obs_dim` numbers."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        self.obs_dim, self.n_actions, self.hidden = obs_dim, n_actions, tuple(hidden)
        self.actor = mlp(obs_dim, self.hidden, n_actions, out_gain=0.01)
        self.critic = mlp(obs_dim, self.hidden, 1, out_gain=1.0)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)  # (B, obs_dim) -> (B, n_actions)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)  # (B, obs_dim) -> (B,)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, greedy: bool = False) -> torch.Tensor:
        """One action per row: sampled from pi(. | s) (torch's RNG), or its most likely action if greedy."""
        logits = self.logits(obs)  # (B, A)
        if greedy:
            return logits.argmax(-1)
        return torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1)  # (B,)

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a | s) of the given actions and the entropy H(pi(. | s)), each (B,)."""
        logp_all = torch.log_softmax(self.logits(obs), -1)  # (B, A)
        logp = logp_all.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        return logp, entropy
