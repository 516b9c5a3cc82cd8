"""Experiment `mnist-rnn`: a GRU (or LSTM) reads each digit row by row, as a sequence of 28 steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from dlf.config import Range, train_bytes
from dlf.experiments._mnist import MnistConfig, train_and_report
from dlf.models.rnn import RowRNN


@dataclass
class Config(MnistConfig):
    cell: Literal["gru", "lstm"] = "gru"
    """Recurrent cell."""
    hidden: Annotated[int, Range(1, 16_384)] = 128
    """Hidden state size."""
    layers: Annotated[int, Range(1, 64)] = 1
    """Stacked recurrent layers."""
    epochs: float = 8.0
    """Passes over the training set."""
    lr: float = 2e-3
    """Peak learning rate."""
    grad_clip: float = 1.0
    """Clip the gradient's global norm to this value if > 0."""

    def memory_bytes(self) -> tuple[float, str]:
        """Gate weights (3 for gru, 4 for lstm) per layer, and every gate of 28 time steps kept for backward."""
        gates, h = (3 if self.cell == "gru" else 4), self.hidden
        params = gates * self.layers * (2 * h * h + 28 * h)
        return train_bytes(params, self.batch_size * 28 * self.layers * gates * h * 2), \
            "--hidden, --layers or --batch-size"


def run(cfg: Config, run) -> dict:
    return train_and_report(cfg, run, RowRNN(cfg.hidden, cfg.layers, cfg.cell))
