"""Experiment `mnist-mlp`: the 2-layer network of the universality theorem, trained on real digits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlf.config import require
from dlf.experiments._mnist import MnistConfig, train_and_report
from dlf.models.mlp import MLP


@dataclass
class Config(MnistConfig):
    hidden: int = 512
    """Hidden units of the single hidden layer."""
    activation: Literal["relu", "tanh", "sigmoid"] = "relu"
    """Activation of the hidden layer."""
    epochs: float = 5.0
    """Passes over the training set."""

    def validate(self) -> None:
        super().validate()
        require(self.hidden >= 1, "hidden", "must be >= 1", self.hidden)


def run(cfg: Config, run) -> dict:
    return train_and_report(cfg, run, MLP(cfg.hidden, cfg.activation))
