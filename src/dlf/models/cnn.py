"""A small convolutional network for MNIST.

Each convolution slides the same small filter over every position of the image, so a stroke is detected
wherever it is (translation equivariance); pooling then makes the answer depend less on where (invariance).
LeCun et al. 1998 (LeNet) is the ancestor; batch normalisation (Ioffe & Szegedy 2015) makes it train fast.
Pooling right after the first convolution keeps the work at full resolution small, which matters on a CPU.

    (B,1,28,28) -conv5x5 c, pool, ReLU-> (B,c,14,14) -conv3x3 2c, BN, ReLU, pool-> (B,2c,7,7)
                -conv3x3 4c, BN, ReLU, pool-> (B,4c,3,3) -flatten, dropout, linear-> (B,10)
"""

from __future__ import annotations

import torch
from torch import nn


class CNN(nn.Module):
    def __init__(self, width: int = 32, dropout: float = 0.1, n_out: int = 10):
        super().__init__()
        c = width
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(inplace=True),  # (B, c, 14, 14)
            nn.Conv2d(c, 2 * c, 3, padding=1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # (B, 2c, 7, 7)
            nn.Conv2d(2 * c, 4 * c, 3, padding=1, bias=False), nn.BatchNorm2d(4 * c), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # (B, 4c, 3, 3)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * c * 9, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10)
