"""Settings every deep model's training shares; an experiment's Config derives from TrainConfig."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlf.config import BaseConfig, require


@dataclass
class TrainConfig(BaseConfig):
    epochs: float = 1.0
    """Passes over the training set (fractions allowed)."""
    max_steps: int = 0
    """Stop after this many optimizer steps if > 0 (a dry run: --max-steps 5)."""
    batch_size: int = 128
    """Global batch size (split evenly over processes under torchrun)."""
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    """Optimizer: adamw, adam, or sgd with momentum."""
    lr: float = 1e-3
    """Peak learning rate."""
    momentum: float = 0.9
    """Momentum for sgd."""
    weight_decay: float = 0.0
    """L2 penalty (decoupled for adamw)."""
    schedule: Literal["constant", "cosine", "linear", "onecycle"] = "cosine"
    """Learning-rate schedule over the run, after the warm-up."""
    warmup_steps: int = 0
    """Linear warm-up from 0 to --lr over this many steps."""
    time_limit: float = 0.0
    """Stop after this many minutes of training if > 0; the LR schedule then runs on time, not steps."""
    grad_clip: float = 0.0
    """Clip the gradient's global norm to this value if > 0."""
    log_every: int = 50
    """Write train metrics to metrics.jsonl every N steps."""
    eval_every: int = 0
    """Evaluate on the validation set every N steps (0: once per epoch)."""
    ckpt_every: int = 500
    """Write a checkpoint every N steps (and always at the end)."""
    keep_checkpoints: int = 2
    """How many recent checkpoints to keep."""
    amp: bool = True
    """Mixed precision on GPU (bf16 where supported, else fp16 with loss scaling); ignored on CPU."""
    compile: bool = False
    """Compile the training step with torch.compile."""
    tensorboard: bool = False
    """Also write metrics for TensorBoard into the run folder (needs the tensorboard package)."""

    def validate(self) -> None:
        super().validate()
        require(self.epochs > 0, "epochs", "must be > 0", self.epochs)
        require(self.max_steps >= 0, "max_steps", "must be >= 0", self.max_steps)
        require(self.batch_size >= 1, "batch_size", "must be >= 1", self.batch_size)
        require(self.lr > 0, "lr", "must be > 0", self.lr)
        require(0 <= self.momentum < 1, "momentum", "must be in [0, 1)", self.momentum)
        require(self.weight_decay >= 0, "weight_decay", "must be >= 0", self.weight_decay)
        require(self.warmup_steps >= 0, "warmup_steps", "must be >= 0", self.warmup_steps)
        require(self.time_limit >= 0, "time_limit", "must be >= 0 (minutes)", self.time_limit)
        require(self.grad_clip >= 0, "grad_clip", "must be >= 0", self.grad_clip)
        require(self.log_every >= 1, "log_every", "must be >= 1", self.log_every)
        require(self.eval_every >= 0, "eval_every", "must be >= 0", self.eval_every)
        require(self.ckpt_every >= 1, "ckpt_every", "must be >= 1", self.ckpt_every)
        require(self.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1", self.keep_checkpoints)
