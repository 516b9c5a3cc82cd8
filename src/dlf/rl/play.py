"""`dlf play RUN_DIR`: evaluate the agent saved in a `dlf run cartpole` folder again, and film one episode."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dlf.errors import ConfigError, DlfError
from dlf.rl import Agent, make_agent
from dlf.rl import envs as rl_envs
from dlf.train import checkpoint

PLAY_SEED = 3_000_000  # new episodes: seeds used neither in training, evaluation nor the run's own GIF


def load_agent(run_dir: str | os.PathLike) -> Agent:
    """The first seed's agent of a finished (or interrupted) run, with its last checkpointed weights."""
    from dlf import registry
    from dlf.runner import load_run_config
    from dlf.sampling import run_experiment

    name = run_experiment(Path(run_dir))
    if not registry.get(name).plays:
        players = ", ".join(e.name for e in registry.EXPERIMENTS if e.plays)
        raise DlfError(f"{run_dir} is a '{name}' run, which has no agent to play; give the folder of a {players} run")
    cfg = load_run_config(name, Path(run_dir))
    folder = Path(run_dir) / f"seed-{cfg.seed}" / "checkpoints"
    found = checkpoint.latest(folder)
    if found is None:
        raise DlfError(f"{run_dir} holds no checkpoint of seed {cfg.seed}; finish it with "
                       f"'dlf run cartpole --resume {run_dir}'")
    agent = make_agent(cfg, cfg.seed)
    try:
        checkpoint.load_weights(found, agent)
    except (OSError, ValueError, RuntimeError) as exc:
        raise DlfError(f"checkpoint {found} is unreadable ({type(exc).__name__}); delete it or train again") from None
    return agent


def play(run_dir: str | os.PathLike, episodes: int = 10, out: str | os.PathLike | None = None,
         quiet: bool = False) -> dict[str, float]:
    """Play `episodes` greedy episodes (the evaluation rule, new seeds), print their returns, write a GIF."""
    if episodes < 1:
        raise ConfigError(f"--episodes must be >= 1 (got {episodes})")
    agent = load_agent(run_dir)
    gif = Path(out) if out is not None else Path(run_dir) / "play.gif"
    if gif.suffix.lower() != ".gif":
        raise ConfigError(f"--out must name a .gif file (got {gif})")
    if not gif.parent.is_dir():
        raise DlfError(f"cannot write {gif}: folder {gif.parent} does not exist; create it or choose another --out")
    evaluator = rl_envs.Evaluator(agent.cfg.env, episodes, PLAY_SEED)
    try:
        returns = evaluator(agent.greedy)
    finally:
        evaluator.close()
    first = rl_envs.film_episode(agent.greedy, agent.cfg.env, PLAY_SEED, gif)
    result = {"episodes": episodes, "mean_return": float(np.mean(returns)), "min_return": float(np.min(returns)),
              "max_return": float(np.max(returns)), "gif_return": first}
    if not quiet:
        print(f"{agent.cfg.algo} on {agent.cfg.env}, {episodes} greedy episode(s): mean return "
              f"{result['mean_return']:.1f} (min {result['min_return']:g}, max {result['max_return']:g})")
        print(f"one episode (return {first:g}) filmed: {gif}")
    return result
