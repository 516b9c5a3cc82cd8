"""Experiment `mnist-cnn`: a small CNN; its accuracy barely drops when test digits move (translation invariance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from dlf.config import Range, train_bytes
from dlf.experiments._mnist import MnistConfig, train_and_report
from dlf.models.cnn import CNN


@dataclass
class Config(MnistConfig):
    width: Annotated[int, Range(1, 4096)] = 32
    """Channels of the first convolution (the later ones have 2x and 4x)."""
    dropout: Annotated[float, Range(0, 1, high_open=True)] = 0.1
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

    def memory_bytes(self) -> tuple[float, str]:
        """Three 3x3 convolutions (w, 2w, 4w channels) and the activations of a batch (about 6 maps of 28x28xw)."""
        w = self.width
        return train_bytes(9 * (w + 2 * w * w + 8 * w * w) + 4 * w * 10, self.batch_size * 6 * 784 * w), \
            "--width or --batch-size"


def run(cfg: Config, run) -> dict:
    return train_and_report(cfg, run, CNN(cfg.width, cfg.dropout))
