"""REINFORCE with a learned baseline: the plain policy gradient (Williams 1992; Sutton & Barto, ch. 13.4).

Play whole episodes with the current policy, then push up the log-probability of each action in proportion to
how much better than expected the rest of its episode went:

    grad J = E[ sum_t grad log pi(a_t | s_t) * (G_t - V(s_t)) ]        G_t: return-to-go (returns.py)

Subtracting the baseline V(s_t) leaves the expectation unchanged (E[grad log pi] = 0) but cuts its variance.
As a loss to minimise (the minus sign turns gradient ascent on J into descent):

    L = -mean_t[ log pi(a_t | s_t) * A_t ] + c_v * mean_t[ (V(s_t) - G_t)^2 ] - c_e * mean_t[ H(pi(. | s_t)) ]

with A_t = G_t - V(s_t) held constant (no gradient flows through the advantage into the critic).
One gradient step per batch: after it, the episodes no longer come from the current policy.
"""

from __future__ import annotations

import torch

from dlf.rl import returns as R
from dlf.rl.agent import Agent
from dlf.rl.policy import ActorCritic
from dlf.rl.rollout import Rollout


def policy_gradient_loss(logp: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """-mean(log pi(a | s) * A): descending it raises log pi of actions with A > 0 and lowers it where A < 0."""
    return -(logp * advantages.detach()).mean()


def reinforce_loss(policy: ActorCritic, obs: torch.Tensor, actions: torch.Tensor, returns: torch.Tensor,
                   vf_coef: float, ent_coef: float, normalize: bool = True) -> dict[str, torch.Tensor]:
    """The loss above on B transitions: obs (B, D), actions (B,), returns-to-go (B,)."""
    logp, entropy = policy.log_prob_entropy(obs, actions)  # (B,), (B,)
    values = policy.value(obs)  # (B,)
    adv = returns - values.detach()
    if normalize:
        adv = R.normalize(adv)
    policy_loss = policy_gradient_loss(logp, adv)
    value_loss = (values - returns).pow(2).mean()
    ent = entropy.mean()
    loss = policy_loss + vf_coef * value_loss - ent_coef * ent
    return {"loss": loss, "policy_loss": policy_loss.detach(), "value_loss": value_loss.detach(),
            "entropy": ent.detach()}


def episode_returns(policy: ActorCritic, rollout: Rollout, gamma: float) -> torch.Tensor:
    """G_t of every step (T, N); V is used only where the time limit cut an episode (bootstrap)."""
    device = next(policy.parameters()).device
    t, n = rollout.actions.shape
    with torch.no_grad():
        values = policy.value(rollout.obs.to(device).flatten(0, 1)).view(t + 1, n)  # (T + 1, N)
    return R.returns_to_go(rollout.rewards.to(device), values, rollout.terminated.to(device),
                           rollout.done.to(device), gamma)


class Reinforce(Agent):
    def learn(self, trainer) -> tuple[Rollout, dict[str, torch.Tensor]]:
        cfg = self.cfg
        collector = self.collector()
        collector.reset(self.seed * 1_000_003 + trainer.step)  # fresh, seeded episodes for every update
        rollout = collector.collect(self.policy, None, first_episode_only=True)
        self.env_steps += rollout.env_steps
        self.set_lr(trainer)
        returns = episode_returns(self.policy, rollout, cfg.gamma)
        keep = rollout.valid.to(self.device)
        obs = rollout.obs[:-1].to(self.device)[keep]  # (B, D): the real transitions only
        out = reinforce_loss(self.policy, obs, rollout.actions.to(self.device)[keep], returns[keep],
                             cfg.vf_coef, cfg.ent_coef)
        (opt,) = trainer.optimizers.values()
        opt.zero_grad(set_to_none=True)
        trainer.backward_and_step(out["loss"], opt)
        return rollout, out
