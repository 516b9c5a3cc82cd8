"""Gymnasium environments: vectorised and seeded, the evaluation rule, and the frames of an episode (for a GIF).

Vectorised: N copies of an environment step together, `envs.step(actions (N,)) -> obs (N, D), rewards (N,), ...`.
CartPole-v1 has a numpy implementation that steps all copies at once (its `vector_entry_point`); other
environments (Acrobot-v1) run as N Python copies in a SyncVectorEnv. Both reset a finished copy on the *next*
step (gymnasium's NEXT_STEP autoreset): the step that ends an episode returns its true final observation, and
the following step returns the new first observation with reward 0, which is not a real transition.

The evaluation rule: the greedy policy (argmax_a pi(a | s), no sampling) plays `episodes` episodes, one in each
copy of a vectorised environment reset with a fixed seed, so an evaluation is a deterministic function of the
weights. The agent has solved the task when the mean return is at least the threshold (475 for CartPole-v1).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # before gymnasium imports pygame for rendering
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # rgb_array rendering needs no display
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import gymnasium as gym  # noqa: E402

from dlf.errors import ConfigError  # noqa: E402

ENVS = ("CartPole-v1", "Acrobot-v1")

Act = Callable[[np.ndarray], np.ndarray]  # observations (N, D) -> actions (N,)


def spec(env_id: str) -> gym.envs.registration.EnvSpec:
    try:
        return gym.spec(env_id)
    except gym.error.Error:
        raise ConfigError(f"--env {env_id!r} is not a Gymnasium environment; choose one of {', '.join(ENVS)}") from None


def make_vec(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """`num_envs` copies of `env_id`: gymnasium's numpy-vectorised version where it has one, else synchronous."""
    mode = "vector_entry_point" if spec(env_id).vector_entry_point else "sync"
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)


def get_state(envs: gym.vector.VectorEnv) -> dict:
    """Everything that decides what `envs` do next, as JSON: each copy's physical state, step counter and RNG.

    Checkpoints store it, so that a resumed run steps on from exactly where it stopped and the checkpoint
    cadence never changes training (no restart of the episodes where a checkpoint is written).
    """
    if isinstance(envs, gym.vector.SyncVectorEnv):  # N Python copies, each TimeLimit(...(AcrobotEnv))
        return {"kind": "sync", "autoreset": envs._autoreset_envs.tolist(),
                "copies": [{"state": np.asarray(e.unwrapped.state).tolist(),
                            "dtype": str(np.asarray(e.unwrapped.state).dtype), "elapsed": e._elapsed_steps,
                            "rng": e.unwrapped.np_random.bit_generator.state} for e in envs.envs]}
    env = envs.unwrapped  # numpy-vectorised CartPole: state (4, N), steps (N,), prev_done (N,), one RNG
    return {"kind": "numpy", "state": env.state.tolist(), "steps": env.steps.tolist(),
            "prev_done": env.prev_done.tolist(), "rng": env.np_random.bit_generator.state}


def set_state(envs: gym.vector.VectorEnv, state: dict) -> None:
    """Put `envs` back into a state from get_state (they must have been reset once)."""
    if isinstance(envs, gym.vector.SyncVectorEnv):
        if state["kind"] != "sync" or len(state["copies"]) != envs.num_envs:
            raise ValueError("the saved environments do not match")
        envs._autoreset_envs = np.array(state["autoreset"], dtype=np.bool_)
        for e, saved in zip(envs.envs, state["copies"]):
            e.unwrapped.state = np.array(saved["state"], dtype=saved["dtype"])  # float32 after a reset, else 64
            e._elapsed_steps = int(saved["elapsed"])
            e.unwrapped.np_random.bit_generator.state = saved["rng"]
        return
    env = envs.unwrapped
    if state["kind"] != "numpy" or np.shape(state["state"]) != env.state.shape:
        raise ValueError("the saved environments do not match")
    env.state = np.array(state["state"], dtype=env.state.dtype)
    env.steps = np.array(state["steps"], dtype=env.steps.dtype)
    env.prev_done = np.array(state["prev_done"], dtype=np.bool_)
    env.np_random.bit_generator.state = state["rng"]


def sizes(env_id: str) -> tuple[int, int]:
    """(observation size, number of actions) of a discrete-action environment."""
    env = gym.make(env_id)
    try:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ConfigError(f"--env {env_id} has continuous actions; the categorical policy needs discrete ones")
        return int(np.prod(env.observation_space.shape)), int(env.action_space.n)
    finally:
        env.close()


def threshold(env_id: str) -> float:
    """The return at which Gymnasium counts the task as solved (475 for CartPole-v1, -100 for Acrobot-v1)."""
    value = spec(env_id).reward_threshold
    if value is None:
        raise ConfigError(f"{env_id} has no reward threshold; give one with --solve-return")
    return float(value)


class Evaluator:
    """Plays `episodes` greedy episodes at once, from the same seeded start states every time."""

    def __init__(self, env_id: str, episodes: int, seed: int):
        self.envs = make_vec(env_id, episodes)
        self.episodes, self.seed = episodes, seed
        self.max_steps = spec(env_id).max_episode_steps or 10_000

    def __call__(self, act: Act) -> np.ndarray:
        """The return of each episode, (episodes,)."""
        obs, _ = self.envs.reset(seed=self.seed)
        returns = np.zeros(self.episodes)
        running = np.ones(self.episodes, dtype=bool)
        for _ in range(self.max_steps + 1):
            obs, reward, terminated, truncated, _ = self.envs.step(act(obs))
            returns += reward * running
            running &= ~(terminated | truncated)
            if not running.any():
                break
        return returns

    def close(self) -> None:
        self.envs.close()


def render_fps(env_id: str) -> float:
    """Frames per second of the environment's own animation (50 for CartPole-v1)."""
    env = gym.make(env_id)
    try:
        return float(env.metadata.get("render_fps", 30))
    finally:
        env.close()


def play_filmed(act: Act, env_id: str, seed: int, on_frame: Callable[[np.ndarray], None], every: int = 2) -> float:
    """Play one episode with rgb_array rendering, handing every `every`-th frame (H, W, 3) uint8 (and the first
    and last) to `on_frame` as soon as it is drawn; returns the episode's return."""
    env = gym.make(env_id, render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=seed)
        on_frame(env.render())
        total, t, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(act(obs[None])[0]))
            total, t, done = total + float(reward), t + 1, terminated or truncated
            if t % every == 0 or done:
                on_frame(env.render())
        return total
    finally:
        env.close()


def film_episode(act: Act, env_id: str, seed: int, path: str | os.PathLike, every: int = 2,
                 scale: float = 0.5, colors: int = 64) -> float:
    """Film one episode as a looping GIF at real speed (every `every`-th frame); returns the episode's return.

    Each frame is shrunk by `scale` and reduced to a palette of `colors` the moment it is drawn, so the episode
    is held as small 1-byte-per-pixel images (CartPole: 300 x 200 bytes a frame instead of 600 x 400 x 3): no
    list of full-size frames, and no matplotlib figure per frame. Written to a temporary file, then renamed.
    """
    from PIL import Image

    frames: list[Image.Image] = []

    def keep(rgb: np.ndarray) -> None:  # (H, W, 3) uint8 -> a small palette image
        im = Image.fromarray(rgb)
        if scale != 1:
            im = im.resize((max(1, int(im.width * scale)), max(1, int(im.height * scale))), Image.BILINEAR)
        frames.append(im.quantize(colors))

    total = play_filmed(act, env_id, seed, keep, every)
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.gif")
    try:
        frames[0].save(tmp, save_all=True, append_images=frames[1:], loop=0, optimize=False,
                       duration=int(round(1000 * every / render_fps(env_id))))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return total
