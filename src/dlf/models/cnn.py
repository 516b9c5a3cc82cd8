"""A small convolutional network for MNIST.

Each convolution slides the same small filter over every position of the image, so a stroke is detected
wherever it is (translation equivariance); pooling then makes the answer depend less on where (invariance).
LeCun et al. 1998 (LeNet) is the ancestor; batch normalisation (Ioffe & Szegedy 2015) makes it train fast.

    (B,1,28,28) -[conv3x3 c, BN, ReLU]x2-> pool -> (B,c,14,14) -[conv3x3 2c]x2-> pool -> (B,2c,7,7)
                -[conv3x3 4c]-> global average pool -> (B,4c) -> linear -> (B,10)
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class CNN(nn.Module):
    def __init__(self, width: int = 16, dropout: float = 0.1, n_out: int = 10):
        super().__init__()
        c = width
        self.features = nn.Sequential(
            *_block(1, c), *_block(c, c), nn.MaxPool2d(2),            # (B, c, 14, 14)
            *_block(c, 2 * c), *_block(2 * c, 2 * c), nn.MaxPool2d(2),  # (B, 2c, 7, 7)
            *_block(2 * c, 4 * c),                                  # (B, 4c, 7, 7)
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * c, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10)
