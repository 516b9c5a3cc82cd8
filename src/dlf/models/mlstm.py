"""The multiplicative LSTM (Krause, Lu, Murray and Renals 2016), the cell of Radford et al.'s sentiment unit.

An LSTM whose gates read, instead of h_{t-1}, an intermediate state m_t that depends on the input, so that each
input character picks its own recurrent transition (Krause et al., eqs. 18-23, the variant of Radford et al.'s
code with one input projection for all four gates):

    m_t = (W_mx x_t) * (W_mh h_{t-1})                  elementwise product
    [i, f, o, u] = W_x x_t + W_m m_t + b
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(u)
    h_t = sigmoid(o) * tanh(c_t)

`MLSTM` has nn.LSTM's interface (batch_first only): `out, (h_n, c_n) = rnn(x, (h_0, c_0))` with x (B, T, I), out
(B, T, H) and states (layers, B, H), so CharRNN takes it as another cell. There is no fused kernel: the input
projections of all T steps are one matrix product, then a Python loop makes two per step. `lengths` stops each
sequence's state at its own last step (padding after it changes nothing), and `cell_states` returns c_t of the
last layer at every step, which is what the sentiment unit is read from.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


class MLSTMLayer(nn.Module):
    def __init__(self, input_size: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.weight_x = nn.Parameter(torch.empty(5 * hidden, input_size))  # rows [W_mx; W_x (i, f, o, u)]
        self.weight_mh = nn.Parameter(torch.empty(hidden, hidden))  # W_mh
        self.weight_m = nn.Parameter(torch.empty(4 * hidden, hidden))  # W_m (i, f, o, u)
        self.bias = nn.Parameter(torch.empty(4 * hidden))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.LSTM's uniform(+-1/sqrt(H)) for the gates; W_mx and W_mh with unit gain (std 1/sqrt(fan_in)), so
        that the product m_t starts at the size of h_t rather than H times smaller."""
        bound = 1 / math.sqrt(self.hidden)
        for p in (self.weight_x, self.weight_m, self.bias):
            nn.init.uniform_(p, -bound, bound)
        with torch.no_grad():
            nn.init.normal_(self.weight_x[:self.hidden], std=1 / math.sqrt(self.weight_x.shape[1]))
            nn.init.normal_(self.weight_mh, std=1 / math.sqrt(self.hidden))

    def forward(self, x: torch.Tensor, state: State, lengths: torch.Tensor | None = None,
                keep_cells: bool = False) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """x (B, T, I), state (h, c) each (B, H) -> (h_t (B, T, H), (h, c) at the end, c_t (B, T, H) or None)."""
        H, T = self.hidden, x.shape[1]
        xm, xg = F.linear(x, self.weight_x).split([H, 4 * H], dim=-1)  # (B, T, H), (B, T, 4H): every step at once
        h, c = state
        outs, cells = [], []
        for t in range(T):
            m = xm[:, t] * F.linear(h, self.weight_mh)  # (B, H)
            i, f, o, u = (xg[:, t] + F.linear(m, self.weight_m, self.bias)).chunk(4, dim=-1)  # (B, H) each
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(u)
            h_new = torch.sigmoid(o) * torch.tanh(c_new)
            if lengths is not None:  # a sequence that has ended keeps its state (Radford et al.'s mask)
                alive = (t < lengths)[:, None]  # (B, 1)
                c_new, h_new = torch.where(alive, c_new, c), torch.where(alive, h_new, h)
            h, c = h_new, c_new
            outs.append(h)
            if keep_cells:
                cells.append(c)
        return torch.stack(outs, dim=1), (h, c), torch.stack(cells, dim=1) if keep_cells else None


class MLSTM(nn.Module):
    """Stacked mLSTM layers with nn.LSTM's call: `out, (h_n, c_n) = rnn(x, state)`, dropout between layers."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        if not batch_first:
            raise ValueError("MLSTM takes batch-first input only")
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.layers = nn.ModuleList(MLSTMLayer(input_size if k == 0 else hidden_size, hidden_size)
                                    for k in range(num_layers))

    def forward(self, x: torch.Tensor, state: State | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """x (B, T, I) -> (h_t of the last layer (B, T, H), (h_n, c_n) each (layers, B, H))."""
        out, state, _ = self._run(x, state, lengths, keep_cells=False)
        return out, state

    def cell_states(self, x: torch.Tensor) -> torch.Tensor:
        """c_t of the last layer after each step, from a zero state: (B, T, H)."""
        return self._run(x, None, None, keep_cells=True)[2]

    def _run(self, x, state, lengths, keep_cells: bool):
        if state is None:
            zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        if lengths is not None:
            lengths = lengths.to(x.device)
        hs, cs, cells = [], [], None
        for k, layer in enumerate(self.layers):
            if k > 0 and self.dropout:
                x = F.dropout(x, self.dropout, self.training)
            last = k == self.num_layers - 1
            x, (h, c), cells = layer(x, (state[0][k], state[1][k]), lengths, keep_cells and last)
            hs.append(h)
            cs.append(c)
        return x, (torch.stack(hs), torch.stack(cs)), cells
