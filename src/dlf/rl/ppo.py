"""Proximal policy optimisation (Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. 7 and 9).

REINFORCE takes one gradient step per batch of experience, because after one step the data no longer come from
the current policy. PPO reuses each rollout for several epochs of minibatch steps and keeps the new policy close
to the one that collected the data by clipping the probability ratio rho = pi(a | s) / pi_old(a | s):

    L_clip  = -E[ min(rho * A, clip(rho, 1 - eps, 1 + eps) * A) ]      A: GAE advantages (returns.py)
    L_value = E[ (V(s) - (A + V_old(s)))^2 ]
    L       = L_clip + c_v * L_value - c_e * E[ H(pi(. | s)) ]

Once rho leaves [1 - eps, 1 + eps] in the direction the advantage favours, the gradient of that sample is 0.
"""

from __future__ import annotations

import torch

from dlf.rl import returns as R
from dlf.rl.agent import Agent
from dlf.rl.policy import ActorCritic
from dlf.rl.rollout import Rollout


def ppo_loss(policy: ActorCritic, obs: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor,
             advantages: torch.Tensor, targets: torch.Tensor, clip: float, vf_coef: float,
             ent_coef: float) -> dict[str, torch.Tensor]:
    """The clipped surrogate, value and entropy terms on a minibatch of B transitions (all inputs (B,) or (B, D))."""
    logp, entropy = policy.log_prob_entropy(obs, actions)  # (B,), (B,)
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    policy_loss = -surrogate.mean()
    value_loss = (policy.value(obs) - targets).pow(2).mean()
    ent = entropy.mean()
    loss = policy_loss + vf_coef * value_loss - ent_coef * ent
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()  # KL(pi_old || pi) estimate, always >= 0
        clip_frac = ((ratio - 1).abs() > clip).float().mean()
    return {"loss": loss, "policy_loss": policy_loss.detach(), "value_loss": value_loss.detach(),
            "entropy": ent.detach(), "approx_kl": approx_kl, "clip_frac": clip_frac}


def prepare(policy: ActorCritic, rollout: Rollout, gamma: float, lam: float) -> dict[str, torch.Tensor]:
    """Flatten the rollout's real transitions with their old log-probabilities, advantages and value targets."""
    device = next(policy.parameters()).device
    obs = rollout.obs.to(device)
    t, n = rollout.actions.shape
    with torch.no_grad():
        values = policy.value(obs.flatten(0, 1)).view(t + 1, n)  # (T + 1, N)
        logp, _ = policy.log_prob_entropy(obs[:-1].flatten(0, 1), rollout.actions.to(device).flatten())
    adv = R.gae(rollout.rewards.to(device), values, rollout.terminated.to(device), rollout.done.to(device),
                gamma, lam)  # (T, N)
    keep = rollout.valid.to(device).flatten()
    flat = {"obs": obs[:-1].flatten(0, 1), "actions": rollout.actions.to(device).flatten(), "old_logp": logp,
            "advantages": adv.flatten(), "targets": (adv + values[:-1]).flatten()}
    return {k: v[keep] for k, v in flat.items()}


class PPO(Agent):
    def learn(self, trainer) -> tuple[Rollout, dict[str, torch.Tensor]]:
        cfg = self.cfg
        rollout = self.ready_collector(trainer).collect(self.policy, cfg.n_steps)
        self.env_steps += rollout.env_steps
        self.set_lr(trainer)
        data = prepare(self.policy, rollout, cfg.gamma, cfg.gae_lambda)
        (opt,) = trainer.optimizers.values()
        n = len(data["actions"])
        sums: dict[str, torch.Tensor] = {}
        count = 0
        for _ in range(cfg.update_epochs):
            order = torch.randperm(n, device=self.device)
            # minibatches of batch_size; a short last one only if it holds at least half a batch
            for start in range(0, max(1, n - cfg.batch_size // 2), cfg.batch_size):
                mb = {k: v[order[start:start + cfg.batch_size]] for k, v in data.items()}
                adv = R.normalize(mb["advantages"])
                out = ppo_loss(self.policy, mb["obs"], mb["actions"], mb["old_logp"], adv, mb["targets"],
                               cfg.clip, cfg.vf_coef, cfg.ent_coef)
                opt.zero_grad(set_to_none=True)
                trainer.backward_and_step(out["loss"], opt)
                for k, v in out.items():
                    sums[k] = sums.get(k, 0) + v.detach()
                count += 1
        return rollout, {k: v / max(count, 1) for k, v in sums.items()}
