"""The small contract between the shared Trainer and a model.

A `Task` is an nn.Module that holds the model and says how to learn from a batch:

    training_step(batch) -> {"loss": scalar tensor, **other metrics}     required
    validation_step(batch) -> {"loss": ..., "acc": ...}  (batch means)     optional
    configure_optimizers(cfg) -> {"name": optimizer}                       optional (default: one from cfg)

`forward(batch)` is `training_step(batch)`, so DistributedDataParallel and torch.compile wrap the whole step.
A model that learns in its own way (a GAN's two optimisers, RL rollouts) overrides `optimizer_step` only.

Data is a `BatchSource`: anything with `len()` and `get(indices) -> batch`, so a batch is one vectorised gather
and the order of examples is a pure function of (seed, step), which makes resuming exact. A source with
`ordered = True` is read in order instead (step s gets indices s*B ... s*B+B-1, wrapping each epoch), for text
streams whose recurrent state carries from one batch to the next. A task that makes its
own data (RL) passes no source: then the batch is None and one epoch is one step.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn


class BatchSource(Protocol):
    def __len__(self) -> int: ...

    def get(self, indices: torch.Tensor) -> Any: ...


class TensorSource:
    """Examples stored as equally long tensors (e.g. images and labels); a batch is a tuple of rows."""

    def __init__(self, *tensors: torch.Tensor):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorSource needs one or more tensors of equal length")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(t[indices] for t in self.tensors)


def make_optimizer(params, cfg, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Optimizer:
    """The optimizer named by cfg.optimizer, with cfg.lr, cfg.weight_decay and cfg.momentum (Adam's `betas`)."""
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)


class Task(nn.Module):
    """Base class: subclass it, set `self.model`, and write `training_step`."""

    def training_step(self, batch: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def validation_step(self, batch: Any) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {k: v.detach() for k, v in self.training_step(batch).items()}

    def configure_optimizers(self, cfg) -> dict[str, torch.optim.Optimizer]:
        return {"main": make_optimizer(self.parameters(), cfg)}

    def forward(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.training_step(batch)

    # Tasks that need their own update (several optimisers, RL rollouts) set this to a method
    # `optimizer_step(batch, trainer) -> metrics`; see Trainer.default_step for what it replaces.
    optimizer_step = None

    unit = "examples"
    """What the trainer counts for the throughput in timing.json (a char-RNN counts characters)."""

    def units(self, batch: Any, batch_size: int) -> int:
        """Units processed by one training step on `batch` (the global batch_size: all processes together)."""
        return batch_size

    def should_stop(self) -> bool:
        """Return True to end training early (e.g. an RL agent that solved its task)."""
        return False

    def state_json(self) -> dict:
        """Extra JSON-able state to checkpoint besides parameters and buffers (e.g. counters)."""
        return {}

    def load_state_json(self, state: dict) -> None:
        """Restore what state_json returned."""
