"""Experiment `mnist-rnn`: a GRU (or LSTM) reads each digit row by row, as a sequence of 28 steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlf.config import require
from dlf.experiments._mnist import MnistConfig, train_and_report
from dlf.models.rnn import RowRNN


@dataclass
class Config(MnistConfig):
    cell: Literal["gru", "lstm"] = "gru"
    """Recurrent cell."""
    hidden: int = 128
    """Hidden state size."""
    layers: int = 1
    """Stacked recurrent layers."""
    epochs: float = 8.0
    """Passes over the training set."""
    lr: float = 2e-3
    """Peak learning rate."""
    grad_clip: float = 1.0
    """Clip the gradient's global norm to this value if > 0."""

    def validate(self) -> None:
        super().validate()
        require(self.hidden >= 1, "hidden", "must be >= 1", self.hidden)
        require(self.layers >= 1, "layers", "must be >= 1", self.layers)


def run(cfg: Config, run) -> dict:
    return train_and_report(cfg, run, RowRNN(cfg.hidden, cfg.layers, cfg.cell))
