"""A character-level recurrent language model (Karpathy's char-rnn): embed, recur, predict the next character.

    logits, state = model(x, state)      x: (B, T) character ids; logits: (B, T, V)
    ids = model.generate(prime, n, temperature=0.8, top_k=0, generator=g)

`state` carries the recurrence from one chunk of text to the next (truncated backpropagation through time:
gradients stop at the chunk boundary, the hidden state does not). `hidden_states` returns the last layer's
activations at every position, for looking inside the network (which unit tracks quotes, line position,
sentiment...). For an LSTM or an mLSTM (dlf.models.mlstm) these are the cell states c_t (Karpathy, Johnson and
Fei-Fei 2015 and Radford et al. 2017 read the cells); for a GRU or plain RNN, the hidden states h_t.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from dlf.models.mlstm import MLSTM

Cell = Literal["lstm", "gru", "rnn", "mlstm"]
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


class CharRNN(nn.Module):
    def __init__(self, vocab_size: int, hidden: int = 512, layers: int = 2, cell: Cell = "lstm",
                 embed: int = 0, dropout: float = 0.0):
        super().__init__()
        self.vocab_size, self.hidden, self.layers, self.cell = vocab_size, hidden, layers, cell
        embed = embed or hidden
        self.embed = nn.Embedding(vocab_size, embed)
        rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN, "mlstm": MLSTM}[cell]
        self.rnn = rnn_cls(embed, hidden, num_layers=layers, batch_first=True,
                           dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        out, state = self.rnn(self.drop(self.embed(x)), state)
        return self.head(self.drop(out)), state

    @staticmethod
    def detach(state: State) -> State:
        """Cut the graph at a chunk boundary but keep the values (truncated BPTT)."""
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(s.detach() for s in state)
        return state.detach()

    @torch.no_grad()
    def generate(self, prime: torch.Tensor, length: int, temperature: float = 1.0, top_k: int = 0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Read `prime` (T,) ids, then draw `length` more ids one at a time from softmax(logits / temperature),
        among the `top_k` likeliest if top_k > 0. The same generator state gives the same ids."""
        logits, state = self(prime[None])  # (1, T, V): the whole prime in one call
        out = []
        for _ in range(length):
            last = logits[0, -1].float() / temperature  # (V,)
            if 0 < top_k < last.numel():
                kth = torch.topk(last, top_k).values[-1]
                last = last.masked_fill(last < kth, float("-inf"))
            nxt = torch.multinomial(torch.softmax(last, -1).cpu(), 1, generator=generator).to(prime.device)
            out.append(nxt)
            logits, state = self(nxt[None], state)  # (1, 1, V)
        return torch.cat(out) if out else prime.new_zeros(0)

    @torch.no_grad()
    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's activations after each character: (B, T, hidden); LSTM: cell states c_t."""
        emb = self.embed(x)  # (B, T, E)
        if self.cell == "mlstm":
            return self.rnn.cell_states(emb)  # (B, T, H): c_t, as Radford et al. read them
        if self.cell != "lstm":
            out, _ = self.rnn(emb)  # (B, T, H): h_t of the last layer at every step
            return out
        # nn.LSTM returns h_t at every step but c_t only at the end: read one character at a time.
        state, cells = None, []
        for t in range(x.shape[1]):
            _, state = self.rnn(emb[:, t:t + 1], state)
            cells.append(state[1][-1])  # (B, H): c_t of the last layer
        return torch.stack(cells, dim=1)
