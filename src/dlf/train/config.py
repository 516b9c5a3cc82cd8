"""Settings every deep model's training shares; an experiment's Config derives from TrainConfig."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from dlf.config import BaseConfig, Device, Range

BIG = 10**9  # a count no run reaches (steps, items)


@dataclass
class TrainConfig(BaseConfig):
    device: Device = "auto"
    """Where to compute: auto picks cuda, then mps, then cpu."""
    epochs: Annotated[float, Range(0, 1e9, low_open=True)] = 1.0
    """Passes over the training set (fractions allowed)."""
    max_steps: Annotated[int, Range(0, BIG)] = 0
    """Stop after this many optimizer steps if > 0 (a dry run: --max-steps 5)."""
    batch_size: Annotated[int, Range(1, 1_000_000)] = 128
    """Global batch size (split evenly over processes under torchrun)."""
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    """Optimizer: adamw, adam, or sgd with momentum."""
    lr: Annotated[float, Range(0, 100, low_open=True)] = 1e-3
    """Peak learning rate."""
    momentum: Annotated[float, Range(0, 1, high_open=True)] = 0.9
    """Momentum for sgd."""
    weight_decay: Annotated[float, Range(0, 100)] = 0.0
    """L2 penalty (decoupled for adamw)."""
    schedule: Literal["constant", "cosine", "linear", "onecycle"] = "cosine"
    """Learning-rate schedule over the run, after the warm-up."""
    warmup_steps: Annotated[int, Range(0, BIG)] = 0
    """Linear warm-up from 0 to --lr over this many steps."""
    time_limit: Annotated[float, Range(0, 1e6)] = 0.0
    """Stop after this many minutes of training if > 0; the LR schedule then runs on time, not steps."""
    grad_clip: Annotated[float, Range(0, 1e6)] = 0.0
    """Clip the gradient's global norm to this value if > 0."""
    log_every: Annotated[int, Range(1, BIG)] = 50
    """Write train metrics to metrics.jsonl every N steps."""
    eval_every: Annotated[int, Range(0, BIG)] = 0
    """Evaluate on the validation set every N steps (0: once per epoch)."""
    ckpt_every: Annotated[int, Range(1, BIG)] = 500
    """Write a checkpoint every N steps (and always at the end)."""
    keep_checkpoints: Annotated[int, Range(2, 1000)] = 2
    """How many recent checkpoints to keep (at least 2: if the newest is found damaged, resuming uses the one
    before)."""
    amp: bool = True
    """Mixed precision on GPU (bf16 where supported, else fp16 with loss scaling); ignored on CPU."""
    compile: bool = False
    """Compile the training step with torch.compile."""
    tensorboard: bool = False
    """Also write metrics for TensorBoard into the run folder (needs the tensorboard package)."""

    checkpoints: ClassVar[bool] = True
