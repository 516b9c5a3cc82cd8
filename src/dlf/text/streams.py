"""Batches of text for a recurrent language model (truncated backpropagation through time).

Training reads `streams` parallel streams of the text in order, one chunk of `seq_len` characters of each per step,
so the recurrent state can carry from one chunk to the next; validation reads non-overlapping chunks, each from a
zero state. Both are `BatchSource`s of the shared Trainer (dlf.train.task).
"""

from __future__ import annotations

import torch


class StreamSource:
    """`streams` parallel streams over the ids, read in order in chunks of seq_len + 1 (inputs and targets).

    Index k is chunk k // streams of stream k % streams, so step s of an epoch gets chunk s of every stream.
    A batch is (x (n, seq_len + 1), fresh (n,)): fresh marks a stream's first chunk (its state starts at zero).
    """

    ordered = True

    def __init__(self, ids: torch.Tensor, streams: int, seq_len: int):
        self.ids, self.streams, self.seq_len = ids, streams, seq_len
        self.stream_len = (len(ids) - 1) // streams
        self.chunks = self.stream_len // seq_len

    def __len__(self) -> int:
        return self.streams * self.chunks

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stream, chunk = indices % self.streams, indices // self.streams
        start = stream * self.stream_len + chunk * self.seq_len  # (n,)
        return self.ids[start[:, None] + torch.arange(self.seq_len + 1)], chunk == 0


class ChunkSource:
    """Non-overlapping chunks of `length` + 1 characters (inputs and targets) for validation."""

    def __init__(self, ids: torch.Tensor, length: int):
        self.length = min(length, len(ids) - 1)
        self.ids, self.n = ids, (len(ids) - 1) // self.length

    def __len__(self) -> int:
        return self.n

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.ids[indices[:, None] * self.length + torch.arange(self.length + 1)],)
