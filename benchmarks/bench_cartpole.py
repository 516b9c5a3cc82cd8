"""Benchmark: dlf's PPO against stable-baselines3's PPO on CartPole-v1, seed by seed, under the benchmark protocol.

    .venv/bin/python benchmarks/bench_cartpole.py                 # 5 seeds (pairs), both agents, the table at the end
    .venv/bin/python benchmarks/bench_cartpole.py --threads 0     # torch's default thread count for both

stable-baselines3 runs with rl-baselines3-zoo's tuned CartPole-v1 hyperparameters (8 envs, n_steps 32, batch 256,
20 epochs, gamma 0.98, GAE lambda 0.8, learning rate and clip range linear from 1e-3 and 0.2, 100k steps, the
default 64-64 tanh MlpPolicy); dlf runs `dlf run cartpole` with its defaults. Both use the same evaluation rule,
the same code: after an update, once every --eval-every environment steps, the greedy policy plays 100 episodes
from the same seeded start states (dlf.rl.envs.Evaluator); solved = mean return >= 475. Reported per seed:
environment steps and wall time from building the agent to the end of the evaluation that solved it (evaluation
time included; it is also shown apart). Each pair is one seed: dlf, then SB3, each in its own process
(benchmarks/_protocol.py), so that a busy machine slows both alike; the table gives each seed's ratio, the median
ratio, and each process's peak RSS as /usr/bin/time reports it, then the rule's floor: no agent counts as solved
before the first evaluation, so a pair's ratio is at least --eval-every / SB3's steps (about 0.33 when SB3 needs
15,104). dlf runs without its GIF (--gif renders one episode after training; measure that apart). Needs
stable-baselines3 (pip install -e ".[bench]"). Not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

import torch
from _protocol import Metric, Side, interleave, load, report, save_json

from dlf import runner
from dlf.experiments.cartpole import Config
from dlf.rl.agent import EVAL_SEED
from dlf.rl.envs import Evaluator

ENV, THRESHOLD = "CartPole-v1", 475.0


def zoo_ppo(seed: int):
    """stable-baselines3 PPO with rl-baselines3-zoo's CartPole-v1 hyperparameters."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    def linear(start: float):
        return lambda progress_remaining: progress_remaining * start

    env = make_vec_env(ENV, n_envs=8, seed=seed)
    return PPO("MlpPolicy", env, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
               ent_coef=0.0, learning_rate=linear(1e-3), clip_range=linear(0.2), device="cpu", seed=seed, verbose=0)


def run_sb3(seed: int, budget: int, eval_every: int, episodes: int) -> dict:
    from stable_baselines3.common.callbacks import BaseCallback

    evaluator = Evaluator(ENV, episodes, EVAL_SEED + seed)

    class SolvedRule(BaseCallback):
        """After each update (at the next rollout's start), evaluate when due; stop once solved."""

        def __init__(self, start: float):
            super().__init__()
            self.start, self.next_eval, self.eval_s = start, eval_every, 0.0
            self.solved_at: int | None = None
            self.solve_s: float | None = None

        def greedy(self, obs):
            with torch.no_grad():
                obs_t = torch.as_tensor(obs, device=self.model.device)
                return self.model.policy._predict(obs_t, deterministic=True).cpu().numpy()

        def _on_rollout_start(self) -> None:
            if self.solved_at is not None or self.num_timesteps < self.next_eval:
                return
            t = time.perf_counter()
            mean = float(evaluator(self.greedy).mean())
            self.eval_s += time.perf_counter() - t
            while self.next_eval <= self.num_timesteps:
                self.next_eval += eval_every
            if mean >= THRESHOLD:
                self.solved_at, self.solve_s = self.num_timesteps, time.perf_counter() - self.start

        def _on_step(self) -> bool:
            return self.solved_at is None

    start = time.perf_counter()
    model = zoo_ppo(seed)
    rule = SolvedRule(start)
    model.learn(total_timesteps=budget, callback=rule)
    evaluator.close()
    return {"steps": rule.solved_at, "time": rule.solve_s, "eval": rule.eval_s}


def run_dlf(seed: int, budget: int, eval_every: int, episodes: int, threads: int) -> dict:
    cfg = Config(seed=seed, env=ENV, env_steps=budget, eval_every=eval_every, eval_episodes=episodes,
                 solve_return=THRESHOLD, threads=threads, gif=False)
    with tempfile.TemporaryDirectory() as tmp:
        run, summary = runner.execute("cartpole", cfg, out=f"{tmp}/run", quiet=True)
    return {"steps": summary[f"seed{seed}_solve_env_steps"], "time": run.timing[f"seed{seed}_solve_s"],
            "eval": run.timing[f"seed{seed}_eval_s"]}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds, one pair each (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--budget", type=int, default=100_000, help="environment steps per seed at most")
    p.add_argument("--eval-every", type=int, default=5000, help="evaluate every N environment steps (default: 5000)")
    p.add_argument("--eval-episodes", type=int, default=100)
    p.add_argument("--threads", type=int, default=1, help="torch threads for both (0: torch's default)")
    p.add_argument("--json", metavar="PATH", help="also write every measurement as JSON")
    p.add_argument("--child", choices=["dlf", "sb3-zoo"], help=argparse.SUPPRESS)
    return p


def child(args: argparse.Namespace) -> dict:
    """One agent, one seed (--seed)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    # not timed: the first Adam imports torch._dynamo (seconds), and stable-baselines3 imports once
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    if args.child == "dlf":
        return run_dlf(args.seed, args.budget, args.eval_every, args.eval_episodes, args.threads)
    import stable_baselines3  # noqa: F401

    return run_sb3(args.seed, args.budget, args.eval_every, args.eval_episodes)


def main() -> None:
    args = parser().parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    common = ["--budget", str(args.budget), "--eval-every", str(args.eval_every), "--eval-episodes",
              str(args.eval_episodes), "--threads", str(args.threads)]

    def agent(name: str):
        return lambda pair: Side(name, [sys.executable, __file__, "--child", name, "--seed",
                                        str(args.seed + pair - 1), *common])

    def progress(m):
        print(f"  seed {args.seed + m.pair - 1} {m.side}: {m.result['steps']} steps", file=sys.stderr, flush=True)

    before = load()
    pairs = interleave(agent("dlf"), agent("sb3-zoo"), args.seeds, progress=progress)
    metrics = [Metric("steps", "env steps to solve", ",.0f"), Metric("time", "s to solve", ",.2f"),
               Metric("eval", "of which evaluation s", ",.2f")]
    print(report(f"CartPole-v1, environment steps to solve, seeds {args.seed}-{args.seed + args.seeds - 1}", pairs,
                 metrics, before, note=f"pair i = seed {args.seed} + i - 1; evaluation every {args.eval_every:,} "
                 f"steps, {args.eval_episodes} greedy episodes, solved at mean >= {THRESHOLD:g}; {args.threads} "
                 "torch thread(s); a seed that never solves has no ratio"))
    print(floor(pairs, args.eval_every))
    save_json(args.json, "bench_cartpole", pairs)


def floor(pairs, eval_every: int) -> str:
    """The lowest steps ratio the evaluation rule allows: no agent is seen to solve before the first evaluation."""
    floors = [eval_every / b.result["steps"] for _, b in pairs if b.result.get("steps")]
    if len(floors) < len(pairs):
        return "The rule's floor: not computed, since SB3 did not solve every seed."
    return (f"The rule's floor: no agent can count as solved before its first evaluation, at {eval_every:,} steps, so "
            f"each pair's steps ratio is at least {eval_every:,} / SB3's steps; the median of those floors here is "
            f"**{statistics.median(floors):.3f}**. A goal below it cannot be met under this rule, however fast dlf "
            f"learns.")


if __name__ == "__main__":
    main()
