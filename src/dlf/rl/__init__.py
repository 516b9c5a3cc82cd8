"""Reinforcement learning: learn to act in an environment from rewards alone.

    policy.py     pi(a | s) and V(s): the actor and the critic
    returns.py    returns-to-go and GAE: what each action was worth
    rollout.py    acting in vectorised environments and recording it
    reinforce.py  the plain policy gradient with a learned baseline
    ppo.py        proximal policy optimisation
    envs.py       seeded Gymnasium environments, the evaluation rule, GIFs
    agent.py      an agent as a Task of the shared Trainer
    play.py       evaluate a saved agent and film it (`dlf play RUN_DIR`)
"""

from __future__ import annotations

from dlf.rl.agent import Agent
from dlf.rl.config import RLConfig


def make_agent(cfg: RLConfig, seed: int) -> Agent:
    """The agent named by cfg.algo, with fresh weights drawn from torch's current RNG."""
    if cfg.algo == "ppo":
        from dlf.rl.ppo import PPO

        return PPO(cfg, seed)
    from dlf.rl.reinforce import Reinforce

    return Reinforce(cfg, seed)


__all__ = ["Agent", "RLConfig", "make_agent"]
