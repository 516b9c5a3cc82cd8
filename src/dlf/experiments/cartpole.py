"""Experiment `cartpole`: reinforcement learning, an agent that learns to balance a pole from rewards alone.

Each seed trains its own agent (REINFORCE with a baseline, or PPO) on the shared Trainer until its greedy policy
averages --solve-return over --eval-episodes seeded episodes, or the --env-steps budget runs out. Every seed
writes DIR/seed-N/ (metrics.jsonl, checkpoints); the run writes learning curves over all seeds (curves.png),
one filmed episode of the first seed's agent (episode.gif), steps to solve in summary.json and the wall time in
timing.json. `dlf play DIR` evaluates the saved agent again and films a new episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from dlf.plotting import figure
from dlf.rl import Agent, RLConfig, make_agent
from dlf.rl import envs as rl_envs
from dlf.rundir import Run
from dlf.runtime import seed_everything
from dlf.train import Trainer, TrainingStopped

FILM_SEED = 2_000_000  # the filmed episode starts from a seed used neither in training nor in evaluation


@dataclass
class Config(RLConfig):
    """All options live in dlf.rl.config.RLConfig (shared with `dlf play`)."""


def run(cfg: Config, run) -> dict:
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        seeds = tqdm(range(cfg.seed, cfg.seed + cfg.seeds), desc="seeds", leave=False,
                     disable=True if run.quiet or cfg.seeds == 1 else None)
        agents = [train_seed(cfg, run, s) for s in seeds]
        return report(cfg, run, agents)
    finally:
        torch.set_num_threads(threads)


def report(cfg: Config, run, agents: list[Agent]) -> dict:
    """Curves, summary, timings and the GIF, from the trained agents and their metrics."""
    histories = {a.seed: seed_run(run, a.seed).read_metrics() for a in agents}
    plot_curves(run, cfg, histories, agents[0].threshold)
    summary = summarize(cfg, agents)
    run.timing.update(timings(agents))
    for a in agents:  # throughput: environment steps per second of training (acting and learning), evaluations aside
        run.count("env_steps", a.env_steps, a.train_s - a.eval_s)
    if cfg.gif and run.enabled:
        summary["gif_return"] = film(agents[0], run.path / "episode.gif", FILM_SEED + cfg.seed)
    for agent in agents:
        agent.close()
    return summary


def seed_run(run, seed: int) -> Run:
    """DIR/seed-N: the Trainer's checkpoints and this seed's metrics.jsonl."""
    sub = Run(run.path / f"seed-{seed}", name=run.name, enabled=run.enabled, resume=run.resume, quiet=run.quiet)
    if sub.enabled:
        sub.path.mkdir(parents=True, exist_ok=True)
    return sub


def train_seed(cfg: Config, run, seed: int) -> Agent:
    """Train (or, on --resume, finish training) the agent of one seed."""
    seed_everything(seed)
    agent = make_agent(cfg, seed)
    sub = seed_run(run, seed)
    trainer = Trainer(cfg.train_config(seed), sub, agent, None)
    try:
        if not agent.should_stop() and trainer.step < trainer.total_steps:
            trainer.fit()
    except TrainingStopped:
        raise TrainingStopped(f"interrupted in seed {seed}; checkpoint saved, continue with: "
                              f"dlf run {run.name} --resume {run.path}") from None
    finally:
        run.keep = run.keep or sub.keep
        sub.close()
    agent.train_s = agent.elapsed()
    return agent


def median(values: list[float | None]) -> float | None:
    """Median with a missing value (not solved) counted as infinite; None when that makes it infinite."""
    m = float(np.median([math.inf if v is None else v for v in values]))
    return m if math.isfinite(m) else None


def summarize(cfg: Config, agents: list[Agent]) -> dict:
    summary: dict = {"env": cfg.env, "algo": cfg.algo, "solve_return": agents[0].threshold,
                     "seeds": len(agents), "seeds_solved": sum(a.solved_at is not None for a in agents),
                     "median_solve_env_steps": median([a.solved_at for a in agents]),
                     "parameters": sum(p.numel() for p in agents[0].policy.parameters())}
    finals = [a.evals[-1][1] for a in agents if a.evals]
    summary["mean_final_eval_return"] = float(np.mean(finals)) if finals else None
    for a in agents:
        summary[f"seed{a.seed}_solve_env_steps"] = a.solved_at
        summary[f"seed{a.seed}_env_steps"] = a.env_steps
        summary[f"seed{a.seed}_updates"] = a.updates
        summary[f"seed{a.seed}_final_eval_return"] = a.evals[-1][1] if a.evals else None
        summary[f"seed{a.seed}_best_eval_return"] = max(r for _, r in a.evals) if a.evals else None
    return summary


def timings(agents: list[Agent]) -> dict[str, float | None]:
    """Wall-clock seconds (kept out of summary.json, which must be the same for the same seed)."""
    out: dict[str, float | None] = {"median_solve_s": median([a.solve_wall_s for a in agents])}
    for a in agents:
        out[f"seed{a.seed}_solve_s"] = None if a.solve_wall_s is None else round(a.solve_wall_s, 3)
        out[f"seed{a.seed}_train_s"] = round(a.train_s, 3)
        out[f"seed{a.seed}_eval_s"] = round(a.eval_s, 3)
    return out


def film(agent: Agent, path, seed: int, every: int = 2) -> float:
    """One greedy episode as a GIF at real speed (every 2nd frame, half size); returns its return."""
    return rl_envs.film_episode(agent.greedy, agent.cfg.env, seed, path, every=every)


def plot_curves(run, cfg: Config, histories: dict[int, list[dict]], threshold: float) -> None:
    """Return against environment steps: each seed thin, their mean bold, min-max over seeds shaded."""
    fig, axes = figure(ncols=2, size=(5.4, 3.8))
    panels = (("episode_return", "training episodes (sampled actions)"),
              ("eval_return", f"evaluation: mean of {cfg.eval_episodes} greedy episodes"))
    for ax, (key, title) in zip(axes[0], panels):
        curves = []
        for rows in histories.values():
            pts = np.array([(r["env_steps"], r[key]) for r in rows if r.get(key) is not None], dtype=float)
            if len(pts):
                ax.plot(pts[:, 0], pts[:, 1], lw=0.8, alpha=0.4)
                curves.append(pts)
        if curves:
            grid = np.linspace(0, max(c[-1, 0] for c in curves), 200)
            # before a seed's first point: no value; after its last: it holds that value (it stopped, solved)
            ys = np.stack([np.interp(grid, c[:, 0], c[:, 1], left=np.nan) for c in curves])
            seen = ~np.isnan(ys).all(0)
            grid, ys = grid[seen], ys[:, seen]
            ax.plot(grid, np.nanmean(ys, 0), color="black", lw=2, label=f"mean of {len(curves)} seed(s)")
            if len(curves) > 1:
                ax.fill_between(grid, np.nanmin(ys, 0), np.nanmax(ys, 0), color="grey", alpha=0.25,
                                label="min-max over seeds")
        ax.axhline(threshold, ls="--", color="crimson", lw=1, label=f"solved: {threshold:g}")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("episodic return")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{cfg.algo.upper()} on {cfg.env} (a seed that stopped holds its last value)")
    run.save_figure(fig, "curves")
