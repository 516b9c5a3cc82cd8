"""Experiment `mnist-cnn`: a small CNN; its accuracy barely drops when test digits move (translation invariance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlf.config import require
from dlf.experiments._mnist import MnistConfig, train_and_report
from dlf.models.cnn import CNN


@dataclass
class Config(MnistConfig):
    width: int = 32
    """Channels of the first convolution (the later ones have 2x and 4x)."""
    dropout: float = 0.1
    """Dropout before the classifier."""
    epochs: float = 8.0
    """Passes over the training set."""
    lr: float = 3e-3
    """Peak learning rate."""
    schedule: Literal["constant", "cosine", "linear", "onecycle"] = "onecycle"
    """Learning-rate schedule over the run, after the warm-up."""
    weight_decay: float = 5e-4
    """L2 penalty (decoupled for adamw)."""
    augment: bool = True
    """Shift each training image by up to 2 pixels at random."""

    def validate(self) -> None:
        super().validate()
        require(self.width >= 1, "width", "must be >= 1", self.width)
        require(0 <= self.dropout < 1, "dropout", "must be in [0, 1)", self.dropout)


def run(cfg: Config, run) -> dict:
    return train_and_report(cfg, run, CNN(cfg.width, cfg.dropout))
