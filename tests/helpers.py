"""Shared helpers for the tests of experiments that train through dlf.train.Trainer."""

from __future__ import annotations

import pytest

from dlf.runner import execute
from dlf.train import Trainer, TrainingStopped


def execute_until_checkpoint(name: str, cfg, out, step: int, **kwargs) -> None:
    """`dlf run NAME` into `out`, stopped as if killed right after its checkpoint at `step` (nothing after it runs)."""
    save = Trainer.save

    def save_then_stop(self):
        save(self)
        if self.step == step:
            raise TrainingStopped("stopped for the test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "save", save_then_stop)
        with pytest.raises(TrainingStopped):
            execute(name, cfg, out, quiet=True, **kwargs)


def without_speed(rows: list[dict]) -> list[dict]:
    """Metric rows without their wall-clock field, which is the one thing a resumed run may not repeat."""
    return [{k: v for k, v in r.items() if k != "samples_per_s"} for r in rows]
