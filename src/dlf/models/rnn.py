"""A recurrent network that reads an MNIST image as a sequence of 28 rows.

    h_t = GRU(x_t, h_{t-1}),  t = 1..28,   x_t = row t of the image (28 pixels),   logits = W h_28 + b

The same weights are used at every time step (temporal invariance): what the network learns about a stroke does
not depend on which row it is in. Cho et al. 2014 (GRU); Hochreiter & Schmidhuber 1997 (LSTM).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


class RowRNN(nn.Module):
    def __init__(self, hidden: int = 128, layers: int = 1, cell: Literal["gru", "lstm"] = "gru", n_out: int = 10):
        super().__init__()
        rnn_cls = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_cls(input_size=28, hidden_size=hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.flatten(1, 2).view(x.shape[0], 28, 28)  # (B, T=28 rows, 28 pixels)
        outputs, _ = self.rnn(rows)  # (B, 28, H)
        return self.out(outputs[:, -1])  # (B, 10): read out after the last row
