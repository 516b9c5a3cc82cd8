"""Seeding and device choice, shared by every experiment."""

from __future__ import annotations

import os
import random
import sys
from typing import TYPE_CHECKING

import numpy as np

from dlf.errors import ConfigError

if TYPE_CHECKING:
    import torch


def seed_everything(seed: int) -> None:
    """Seed python's `random`, numpy and torch (CPU and every GPU).

    torch is seeded when the experiment has imported it (every torch experiment does at import time); word2vec
    never does, and skipping torch's import saves it about 200 MB of peak memory.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def pick_device(name: str = "auto") -> torch.device:
    """`auto` picks cuda, then mps, then cpu; an explicit choice that is not available is an error."""
    import torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise ConfigError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if name == "mps" and not mps:
        raise ConfigError("--device mps was asked for but MPS is not available; use --device cpu or auto")
    if name not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device must be auto, cpu, cuda or mps (got {name!r})")
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)
