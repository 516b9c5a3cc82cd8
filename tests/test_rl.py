"""Reinforcement learning: returns and advantages by hand, the sign of the policy gradient, PPO's clip, runs
end to end on a tiny budget, determinism, PPO solving CartPole and REINFORCE improving, exact resume through the
shared checkpoints (SIGKILL included) with the environments' state, a checkpoint cadence that changes nothing,
and `dlf play`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dlf import cli, runner
from dlf.experiments.cartpole import Config
from dlf.rl import returns as R
from dlf.rl.policy import ActorCritic
from dlf.rl.ppo import ppo_loss
from dlf.rl.reinforce import policy_gradient_loss, reinforce_loss
from dlf.rundir import Run
from tests.helpers import execute_until_checkpoint, sigkilled_at_checkpoint, without_speed

GAMMA = 0.9


def episode_batch():
    """Two environments, 4 steps, rewards 1 (float64). Env 0: the pole falls at t = 1, t = 2 only resets it
    (NEXT_STEP autoreset), a new episode runs at t = 3 and the rollout stops mid-episode. Env 1: the time limit
    cuts its episode at t = 2, then it resets at t = 3."""
    ones = torch.ones(4, 2, dtype=torch.float64)
    rewards = ones.clone()
    rewards[2, 0] = rewards[3, 1] = 0.0  # the reset steps pay nothing
    terminated = torch.zeros(4, 2, dtype=torch.bool)
    terminated[1, 0] = True
    done = terminated.clone()
    done[2, 1] = True
    values = torch.tensor([[0.5, 2.0], [0.4, 3.0], [0.3, 4.0], [0.2, 5.0], [0.1, 6.0]], dtype=torch.float64)
    return rewards, values, terminated, done


def test_returns_to_go_on_a_hand_computed_episode():
    rewards, values, terminated, done = episode_batch()
    g = R.returns_to_go(rewards, values, terminated, done, GAMMA)
    # env 0: G_1 = 1 (fell), G_0 = 1 + 0.9 * 1; t = 3 stops mid-episode: G_3 = 1 + 0.9 * V(s_4) = 1 + 0.9 * 0.1
    assert g[1, 0] == pytest.approx(1.0)
    assert g[0, 0] == pytest.approx(1.9)
    assert g[3, 0] == pytest.approx(1.09)
    # env 1: cut by the time limit at t = 2, so bootstrap with V(s_3) = 5: G_2 = 1 + 0.9 * 5
    assert g[2, 1] == pytest.approx(5.5)
    assert g[1, 1] == pytest.approx(1 + 0.9 * 5.5)
    assert g[0, 1] == pytest.approx(1 + 0.9 * (1 + 0.9 * 5.5))


def test_gae_on_a_hand_computed_episode_and_its_two_limits():
    rewards, values, terminated, done = episode_batch()
    a = R.gae(rewards, values, terminated, done, GAMMA, lam=0.8)
    d1 = 1 - 0.4  # env 0 fell at t = 1: delta = r - V(s_1)
    d0 = 1 + 0.9 * 0.4 - 0.5
    assert a[1, 0] == pytest.approx(d1)
    assert a[0, 0] == pytest.approx(d0 + 0.9 * 0.8 * d1)
    d2 = 1 + 0.9 * 5.0 - 4.0  # env 1 cut at t = 2: the bootstrap stays in delta
    assert a[2, 1] == pytest.approx(d2)
    assert a[1, 1] == pytest.approx((1 + 0.9 * 4.0 - 3.0) + 0.72 * d2)
    # lambda = 1: A + V is the return-to-go; lambda = 0: A is the one-step TD error
    valid = torch.tensor([[1, 1], [1, 1], [0, 1], [1, 0]], dtype=torch.bool)  # the reset steps are no transitions
    mc = R.gae(rewards, values, terminated, done, GAMMA, lam=1.0) + values[:-1]
    assert torch.allclose(mc[valid], R.returns_to_go(rewards, values, terminated, done, GAMMA)[valid])
    td = rewards + GAMMA * (~terminated) * values[1:] - values[:-1]
    assert torch.allclose(R.gae(rewards, values, terminated, done, GAMMA, lam=0.0), td)


def one_sgd_step(policy: ActorCritic, loss: torch.Tensor, lr: float = 0.1) -> None:
    policy.zero_grad()
    loss.backward()
    with torch.no_grad():
        for p in policy.parameters():
            if p.grad is not None:
                p -= lr * p.grad


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("loss_name", ["policy_gradient", "reinforce", "ppo"])
def test_one_update_moves_the_log_probability_with_the_sign_of_the_advantage(loss_name, sign):
    torch.manual_seed(0)
    policy = ActorCritic(4, 2).double()
    torch.nn.init.zeros_(policy.critic[-1].weight)  # V = 0: the return is the advantage
    obs = torch.tensor([[0.1, -0.2, 0.03, 0.4]], dtype=torch.float64)
    action = torch.tensor([1])
    before, _ = policy.log_prob_entropy(obs, action)
    reward = torch.tensor([sign], dtype=torch.float64)
    if loss_name == "policy_gradient":
        logp, _ = policy.log_prob_entropy(obs, action)
        loss = policy_gradient_loss(logp, reward)
    elif loss_name == "reinforce":
        loss = reinforce_loss(policy, obs, action, reward, vf_coef=0.0, ent_coef=0.0)["loss"]
    else:
        loss = ppo_loss(policy, obs, action, before.detach(), reward, reward, clip=0.2, vf_coef=0.0,
                        ent_coef=0.0)["loss"]
    one_sgd_step(policy, loss)
    after, _ = policy.log_prob_entropy(obs, action)
    assert float((after - before).detach()) * sign > 1e-4  # rewarded: more likely; punished: less likely


def test_ppo_gives_no_gradient_once_the_ratio_is_clipped():
    torch.manual_seed(0)
    policy = ActorCritic(4, 2).double()
    obs = torch.randn(8, 4, dtype=torch.float64)
    actions = torch.randint(0, 2, (8,))
    logp, _ = policy.log_prob_entropy(obs, actions)
    adv = torch.ones(8, dtype=torch.float64)
    for shift, clipped in ((0.5, True), (0.05, False)):  # ratio e^0.5 = 1.65 is past 1 + 0.2; e^0.05 is not
        policy.zero_grad()
        out = ppo_loss(policy, obs, actions, logp.detach() - shift, adv, adv, clip=0.2, vf_coef=0.0, ent_coef=0.0)
        out["loss"].backward()
        grad = sum(float(p.grad.abs().sum()) for p in policy.actor.parameters())
        assert (grad == 0.0) == clipped
        assert float(out["clip_frac"]) == (1.0 if clipped else 0.0)


def tiny(**changes) -> Config:
    """Two seeds of 2 PPO updates (8 envs x 32 steps, one epoch each), evaluated on 5 episodes."""
    base = dict(env_steps=512, update_epochs=1, eval_every=256, eval_episodes=5, seeds=2, threads=1)
    return Config(**{**base, **changes})


def test_tiny_budget_runs_end_to_end_and_repeats_exactly(tmp_path):
    run, summary = runner.execute("cartpole", tiny(), out=tmp_path / "a", quiet=True)
    for name in ("config.json", "summary.json", "timing.json", "curves.png", "episode.gif",
                 "seed-0/metrics.jsonl", "seed-1/metrics.jsonl"):
        assert (run.path / name).exists(), name
    assert 400 < summary["seed0_env_steps"] < 512  # 2 x 8 x 32 steps, less those that only reset an environment
    assert summary["seed0_updates"] == 2
    assert summary["seeds_solved"] == 0 and summary["median_solve_env_steps"] is None
    assert 8 <= summary["seed0_final_eval_return"] <= 100  # an untrained policy drops the pole soon
    timing = json.loads((run.path / "timing.json").read_text())
    assert {"seed0_train_s", "seed1_eval_s", "median_solve_s"} <= set(timing)
    assert not any(k.endswith("_s") for k in summary)  # wall-clock figures stay out of summary.json
    _, again = runner.execute("cartpole", tiny(gif=False), out=tmp_path / "b", quiet=True)
    assert again == {k: v for k, v in summary.items() if k != "gif_return"}  # the same seeds: the same numbers


def test_reinforce_runs_whole_episodes_on_a_tiny_budget(tmp_path):
    run, summary = runner.execute("cartpole", tiny(algo="reinforce", seeds=1, gif=False, env_steps=300),
                                  out=tmp_path / "r", quiet=True)
    records = [r for r in Run(run.path / "seed-0").read_metrics() if "episodes" in r]
    assert records[0]["episodes"] == 8  # one whole episode per environment per update
    assert summary["seed0_env_steps"] >= 300 and summary["seed0_updates"] == len(records)


def small(**changes) -> Config:
    """One seed of 8 PPO updates (8 envs x 32 steps, 2 epochs): episodes run across updates and checkpoints."""
    base = dict(env_steps=2048, update_epochs=2, eval_every=1024, eval_episodes=5, seeds=1, threads=1, gif=False)
    return Config(**{**base, **changes})


def metrics(run_path) -> list[dict]:
    return without_speed(Run(run_path / "seed-0").read_metrics())


def test_the_checkpoint_cadence_changes_nothing(tmp_path):
    _, rare = runner.execute("cartpole", small(ckpt_every=50), out=tmp_path / "rare", quiet=True)
    _, often = runner.execute("cartpole", small(ckpt_every=3), out=tmp_path / "often", quiet=True)
    assert often == rare
    assert metrics(tmp_path / "often") == metrics(tmp_path / "rare")
    state = json.loads((tmp_path / "often" / "seed-0" / "checkpoints" / "step-00000006" / "state.json").read_text())
    saved = state["extra"]["task"]["collector"]
    assert 0 < max(saved["ep_length"]) < 500  # the checkpoint holds episodes in progress, not restarted ones


@pytest.mark.parametrize("env", ["CartPole-v1", "Acrobot-v1"])
def test_resume_mid_episode_continues_exactly(tmp_path, env):
    cfg = small(env=env, solve_return=1000.0)  # never solved: all 8 updates run
    _, full = runner.execute("cartpole", cfg, out=tmp_path / "full", quiet=True)
    execute_until_checkpoint("cartpole", small(env=env, solve_return=1000.0, ckpt_every=3), tmp_path / "cut", 3)
    _, resumed = runner.execute("cartpole", resume=tmp_path / "cut", quiet=True)
    assert resumed == full
    assert metrics(tmp_path / "cut") == metrics(tmp_path / "full")


def test_resume_of_two_seeds_continues_exactly_through_the_shared_checkpoints(tmp_path):
    cfg = tiny(ckpt_every=1, gif=False)
    _, full = runner.execute("cartpole", cfg, out=tmp_path / "full", quiet=True)
    run, _ = runner.execute("cartpole", cfg, out=tmp_path / "cut", quiet=True)
    # simulate a crash after seed 1's checkpoint at update 1: later checkpoints and the summary never got written
    shutil.rmtree(run.path / "seed-1" / "checkpoints" / "step-00000002")
    (run.path / "summary.json").unlink()
    _, resumed = runner.execute("cartpole", resume=run.path, quiet=True)
    assert resumed == full  # seed 0 restored as finished, seed 1 continued from update 1 to the same numbers
    lines = (run.path / "seed-1" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in lines if '"env_steps"' in r] == [1, 2]  # update 2 logged once


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_same_summary(tmp_path):
    args = ["--env-steps", "4096", "--update-epochs", "2", "--eval-every", "1024", "--eval-episodes", "5",
            "--threads", "1", "--no-gif", "--solve-return", "1000", "--ckpt-every", "1", "--quiet"]
    killed = tmp_path / "killed"
    with sigkilled_at_checkpoint(["run", "cartpole", "--out", str(killed), *args], killed / "seed-0" / "checkpoints",
                                 4):  # the uninterrupted run trains here meanwhile
        _, full = runner.execute("cartpole", small(env_steps=4096, solve_return=1000.0), out=tmp_path / "full",
                                 quiet=True)
    assert not (killed / "summary.json").exists(), "the run finished before it could be killed"
    _, resumed = runner.execute("cartpole", resume=killed, quiet=True)
    assert resumed == full
    assert metrics(killed) == metrics(tmp_path / "full")


@pytest.mark.slow
def test_ppo_solves_cartpole(doc_runs):
    """The default recipe: the greedy policy averages >= 475 over 100 seeded episodes (about 4,300 steps).
    It is docs/rl.md's checked command, so the session trains it once for both (conftest.doc_runs)."""
    summary = doc_runs("dlf run cartpole --seeds 1 --threads 1 --no-gif")
    assert summary["seeds_solved"] == 1
    assert summary["seed0_solve_env_steps"] <= 10_000
    assert summary["seed0_final_eval_return"] >= 475


def test_reinforce_improves_its_return(tmp_path):
    """6,000 steps: the sampled episodes last 1.6 to 2.2 times as long as at the start (seeds 0-3 on this CPU)."""
    run, _ = runner.execute("cartpole", Config(algo="reinforce", env_steps=6000, eval_every=10**6, eval_episodes=5,
                                               threads=1, gif=False), out=tmp_path / "r", quiet=True)
    returns = [r["episode_return"] for r in Run(run.path / "seed-0").read_metrics() if "episode_return" in r]
    assert len(returns) >= 16
    first, last = np.mean(returns[:4]), np.mean(returns[-4:])  # each: 4 updates x 8 episodes
    assert first < 30  # a random policy drops the pole after about 22 steps
    assert last > 1.3 * first


def test_play_evaluates_the_saved_agent_and_writes_a_gif(tmp_path, capsys):
    run, _ = runner.execute("cartpole", tiny(seeds=1, gif=False), out=tmp_path / "run", quiet=True)
    assert cli.main(["play", str(run.path), "--episodes", "3", "--out", str(tmp_path / "new.gif")]) == 0
    assert (tmp_path / "new.gif").read_bytes()[:6] == b"GIF89a"
    assert "3 greedy episode(s)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["run", "cartpole", "--num-envs", "0"], "--num-envs must be"),
    (["run", "cartpole", "--batch-size", "512", "--n-steps", "8"], "--batch-size must be <= num_envs * n_steps"),
    (["run", "cartpole", "--env", "Pong-v5"], "--env must be one of"),
    (["play", "NO_SUCH_DIR"], "holds no config.json"),
])
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_play_refuses_a_run_without_an_agent_in_one_line(tmp_path, capsys):
    from dlf.cli import main

    assert main(["run", "activations", "--out", str(tmp_path / "act"), "--quiet"]) == 0
    assert main(["play", str(tmp_path / "act")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"dlf: error: {tmp_path / 'act'} is a 'activations' run, which has no agent to play; "
                   f"give the folder of a cartpole run"]


def balance(obs: np.ndarray) -> np.ndarray:
    """A hand-written CartPole policy that lasts all 500 steps from seed 0: push toward where the pole falls."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def test_film_episode_writes_the_episode_at_half_size_and_real_speed(tmp_path):
    from PIL import Image

    from dlf.rl import envs

    full: list[np.ndarray] = []  # every 2nd full-size frame, as drawn
    total = envs.play_filmed(balance, "CartPole-v1", 0, full.append)
    assert envs.film_episode(balance, "CartPole-v1", 0, tmp_path / "e.gif") == total == 500.0
    with Image.open(tmp_path / "e.gif") as im:
        h, w, _ = full[0].shape
        assert im.size == (w // 2, h // 2) and 200 <= im.n_frames <= len(full) == 251  # equal frames may merge
        assert im.info["duration"] >= 40  # every 2nd frame of a 50 fps animation
    assert not list(tmp_path.glob(".*")), "no temporary file is left behind"


FILM_MEMORY = """
import resource, sys, numpy as np
from dlf.rl import envs
from tests.test_rl import balance
envs.film_episode(balance, "CartPole-v1", 0, sys.argv[1] + "/warm.gif", every=250)  # imports, pygame's screen
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
envs.film_episode(balance, "CartPole-v1", 0, sys.argv[1] + "/e.gif")
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_filming_500_steps_adds_little_peak_memory(tmp_path):
    """251 frames of 600 x 400 x 3 would be 180 MB (the old way, full-size frames in a list, peaked 470 MB higher);
    shrunk to 1-byte palette images the moment they are drawn they are 15 MB."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", FILM_MEMORY, str(tmp_path)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert float(out.stdout.split()[-1]) < 60, out.stdout
