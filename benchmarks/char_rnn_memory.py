"""Peak memory of char-rnn's training steps, above the process after its imports (docs/char-rnn.md, "Where dlf's
memory went"): 3 Adam steps of CharTask on random ids, one torch thread.

    python benchmarks/char_rnn_memory.py gru 256 128 32     # cell, hidden, batch (streams), chunk length
"""

from __future__ import annotations

import resource
import sys

import torch

from dlf.experiments.char_rnn import CharRNN, CharTask


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def main() -> None:
    torch.set_num_threads(1)
    cell, hidden, batch, length = sys.argv[1], *map(int, sys.argv[2:5])
    base = peak_mib()
    task = CharTask(CharRNN(65, hidden, 1, cell, 64), batch)
    opt = torch.optim.Adam(task.parameters(), 3e-3)
    for _ in range(3):
        x = torch.randint(0, 65, (batch, length + 1))  # (B, T + 1)
        loss = task.training_step((x, torch.zeros(batch, dtype=torch.bool)))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"{cell} {hidden}, batch {batch} x {length}: training peak {peak_mib() - base:.0f} MiB above the "
          f"{base:.0f} MiB after imports")


if __name__ == "__main__":
    main()
