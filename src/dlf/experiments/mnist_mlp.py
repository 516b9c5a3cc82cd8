"""Experiment `mnist-mlp`: the 2-layer network of the universality theorem, trained on real digits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from dlf.config import Range, train_bytes
from dlf.experiments._mnist import MnistConfig, train_and_report
from dlf.models.mlp import MLP


@dataclass
class Config(MnistConfig):
    hidden: Annotated[int, Range(1, 65_536)] = 512
    """Hidden units of the single hidden layer."""
    activation: Literal["relu", "tanh", "sigmoid"] = "relu"
    """Activation of the hidden layer."""
    epochs: float = 5.0
    """Passes over the training set."""

    def memory_bytes(self) -> tuple[float, str]:
        return train_bytes(794 * self.hidden, self.batch_size * (784 + 3 * self.hidden)), "--hidden"


def run(cfg: Config, run) -> dict:
    return train_and_report(cfg, run, MLP(cfg.hidden, cfg.activation))
