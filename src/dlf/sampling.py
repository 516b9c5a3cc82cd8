"""`dlf sample RUN_DIR`: draw new samples from the model of a finished run (char-rnn, pixelcnn, vae, gan).

What can be sampled is declared in the registry (`Experiment.samples`: "images" or "text"), and such an
experiment's module defines `sample(run_dir: Path, cfg, opts: SampleOptions) -> str`: it loads its weights with
`load_weights`, writes what it drew (text, or a PNG grid through `save_image_grid`) and returns a short message
for the terminal. The same seed gives the same samples. Text models also take --prime, --length, --temperature
and --top-k.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from dlf import registry
from dlf.errors import ConfigError, DlfError
from dlf.train import checkpoint

TEXT_ONLY = ("prime", "length", "temperature", "top_k")


@dataclass
class SampleOptions:
    n: int = 64
    """Images to draw (image models)."""
    seed: int = 0
    """Seed of the sampler: the same seed gives the same samples."""
    out: str | None = None
    """File to write (default: in RUN_DIR)."""
    prime: str | None = None
    """Text that starts the sample (char-rnn)."""
    length: int | None = None
    """Characters to generate (char-rnn)."""
    temperature: float | None = None
    """Divide the logits by this before sampling; below 1 is more conservative (char-rnn)."""
    top_k: int | None = None
    """Sample only among the k likeliest characters; 0 means all (char-rnn)."""

    def validate(self) -> None:
        if self.n < 1:
            raise ConfigError(f"--n must be >= 1 (got {self.n})")
        if self.length is not None and self.length < 1:
            raise ConfigError(f"--length must be >= 1 (got {self.length})")
        if self.temperature is not None and not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ConfigError(f"--temperature must be > 0 (got {self.temperature}); try 0.8")
        if self.top_k is not None and self.top_k < 0:
            raise ConfigError(f"--top-k must be >= 0 (got {self.top_k}); 0 samples among all characters")


def sampleable() -> list[str]:
    """The experiments that `dlf sample` draws from, in `dlf list` order."""
    return [e.name for e in registry.EXPERIMENTS if e.samples]


def run_experiment(run_dir: str | os.PathLike) -> str:
    """The experiment name recorded in RUN_DIR/config.json."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise DlfError(f"{run_dir} holds no config.json; give the folder of a run made by 'dlf run'")
    try:
        return json.loads(path.read_text(encoding="utf-8"))["experiment"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise DlfError(f"{path} is damaged (no experiment name); give the folder of a run made by 'dlf run'") from None


def sample(run_dir: str | os.PathLike, opts: SampleOptions) -> str:
    """Dispatch to the run's experiment module; returns the message to print."""
    from dlf.runner import load_run_config

    opts.validate()
    name = run_experiment(run_dir)
    experiment = registry.get(name)
    if not experiment.samples:
        names = sampleable()
        kinds = ", ".join(names[:-1]) + " or " + names[-1]
        raise DlfError(f"{run_dir} is a '{name}' run, which draws no samples; sample a {kinds} run")
    if experiment.samples != "text":
        given = [o for o in TEXT_ONLY if getattr(opts, o) is not None]
        if given:
            raise ConfigError(f"--{given[0].replace('_', '-')} applies to text models; '{name}' draws images")
    cfg = load_run_config(name, Path(run_dir))
    return experiment.load().sample(Path(run_dir), cfg, opts)


def load_weights(run_dir: Path, model: torch.nn.Module, name: str) -> Path:
    """Load the newest good checkpoint of a run into `model` (a Task) and return it (a damaged newest one is
    reported and the one before used); a one-line error when there is none."""
    found = checkpoint.latest(Path(run_dir) / "checkpoints")
    if found is None:
        raise DlfError(f"{run_dir} holds no checkpoint; train it with 'dlf run {name} --out {run_dir}' "
                       f"or finish it with 'dlf run {name} --resume {run_dir}'")
    try:
        found = checkpoint.load_weights(found, model)
    except (OSError, ValueError, RuntimeError) as exc:
        raise DlfError(f"checkpoint {found} is unreadable ({type(exc).__name__}); delete it or train again") from None
    return found


def output_path(run_dir: Path, out: str | None, default: str, suffix: str) -> Path:
    """Where to write: --out, checked for its suffix and folder, or RUN_DIR/default."""
    path = Path(out) if out else Path(run_dir) / default
    if path.suffix.lower() != suffix:
        raise ConfigError(f"--out must name a {suffix} file (got {path})")
    if not path.parent.is_dir():
        raise DlfError(f"cannot write {path}: folder {path.parent} does not exist; create it or choose another --out")
    return path


def save_image_grid(images: torch.Tensor, path: Path, title: str | None = None, cols: int = 0) -> Path:
    """Images (N, H, W) or (N, H*W), values in [0, 1], as one PNG mosaic (dlf.plotting.image_grid), written whole
    and then renamed, so that a reader never sees half a file."""
    from dlf.plotting import image_grid, plt

    fig = image_grid(images, title, cols)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp)
    finally:
        plt.close(fig)
    os.replace(tmp, path)
    return path
