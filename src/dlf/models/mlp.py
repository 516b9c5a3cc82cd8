"""The 2-layer network of the universality theorem, for MNIST: 784 pixels -> hidden units -> 10 logits.

    h = act(W1 x + b1),   logits = W2 h + b2

Hornik (1991): with enough hidden units such a network approximates any continuous function; here it classifies
digits without knowing that pixels sit on a grid, which is why shifting an image hurts it (compare the CNN).
"""

from __future__ import annotations

import torch
from torch import nn

from dlf.fundamentals.activations import get as get_activation


class MLP(nn.Module):
    def __init__(self, hidden: int = 512, activation: str = "relu", n_in: int = 784, n_out: int = 10):
        super().__init__()
        self.hidden = nn.Linear(n_in, hidden)
        self.act = get_activation(activation)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # (B, 784)
        return self.out(self.act(self.hidden(x)))  # (B, 10)
