"""The network of the Universality page, trained a few steps at a time so that the page can redraw between them.

f(x) = sum_j v_j act(w_j x + b_j) + c (dlf.fundamentals.universality.OneHiddenLayer), fitted to a target on
POINTS points of INTERVAL: x scaled to [-1, 1] and the target to mean 0 and spread 1, as `universality.fit` does.
`measure` gives its errors on GRID, where the page draws; the Train button and the width sweep both use them.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from dlf.explore.session import Curve
from dlf.fundamentals import universality as uni
from dlf.fundamentals.expr import Target, parse_target
from dlf.fundamentals.losses import mse

INTERVAL = (-math.pi, math.pi)
POINTS = 256  # training points
GRID = np.linspace(*INTERVAL, 161)  # where the figure draws, and the errors are measured


class LiveFit:
    """f(x) = sum_j v_j act(w_j x + b_j) + c fitted to a target, trained a frame at a time.

    It starts from a random network: the hidden units' switches spread over the interval, the output weights
    v_j drawn small (N(0, 1/width)) and c = 0. `solve_output` jumps to the least-squares best output layer.
    Training never lets the error grow: a step that would raise the training error by more than TOLERANCE is
    undone and the step size halved (it grows back by 10% a step after each good one). So a learner sees
    training improve a fit, or keep it, never spoil it; the width sweep trains each width the same way.
    """

    TOLERANCE = 1e-3  # relative rise of the training loss that a step may cause and still be kept

    def __init__(self, target: Target, width: int, activation: str, seed: int = 0):
        lo, hi = INTERVAL
        self.target, self.width, self.activation = target, width, activation
        x = np.linspace(lo, hi, POINTS)
        y = target(x)
        self.x_shift, self.x_scale = (lo + hi) / 2, (hi - lo) / 2
        self.y_shift, self.y_scale = float(y.mean()), float(y.std()) or 1.0
        self.u = torch.from_numpy((x - self.x_shift) / self.x_scale).float()  # (POINTS,) in [-1, 1]
        self.t = torch.from_numpy((y - self.y_shift) / self.y_scale).float()  # (POINTS,) mean 0, std 1
        self.grid_u = torch.from_numpy((GRID - self.x_shift) / self.x_scale).float()  # (161,)
        self.grid_target = target(GRID)  # (161,)
        self.model = uni.OneHiddenLayer(width, activation, dtype=torch.float32)  # float32: twice as fast, enough
        gen = torch.Generator().manual_seed(seed)
        self.model.spread_kinks((-1.0, 1.0), gen)
        with torch.no_grad():
            self.model.v.copy_(torch.randn(width, generator=gen) / math.sqrt(width))
        self.steps = 0
        self.factor = 1.0  # step size = lr * factor
        self.curve = Curve()
        self.curve.add(0, self.rms())
        self._opt: torch.optim.Optimizer | None = None
        self._opt_name = ""

    def __getstate__(self) -> dict:  # to a worker process and back: the target goes as its text, parsed again
        return {**self.__dict__, "target": self.target.text}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.target = parse_target(state["target"])

    @torch.no_grad()
    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        """Each unit's contribution (161, width) and the output (161,) on GRID, in the target's units."""
        contrib = (self.model.contributions(self.grid_u) * self.y_scale).double().numpy()
        return contrib, contrib.sum(1) + float(self.model.c) * self.y_scale + self.y_shift

    def rms(self) -> float:
        """RMS error on the training points, in the target's units."""
        with torch.no_grad():
            return math.sqrt(float(mse(self.model(self.u), self.t))) * self.y_scale

    def solve_output(self) -> None:
        """Set the output layer to its least-squares best for the current hidden units."""
        self.model.solve_output(self.u, self.t)
        self._opt = None  # Adam's memory of earlier gradients no longer fits
        self.curve.add(self.steps, self.rms())

    def _optimizer(self, name: str) -> torch.optim.Optimizer:
        if self._opt is None or name != self._opt_name:
            self._opt, self._opt_name = uni._optimizer(name, list(self.model.parameters()), 0.01), name
        return self._opt

    def train(self, deadline: float, max_steps: int, lr: float, optimizer: str) -> int:
        """Optimiser steps until perf_counter() passes `deadline` (at least one); -1 if the loss blew up."""
        opt = self._optimizer(optimizer)
        params = list(self.model.parameters())

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = mse(self.model(self.u), self.t)
            loss.backward()
            return loss

        done = 0
        while done < max_steps and (done == 0 or time.perf_counter() < deadline):
            if optimizer == "lbfgs":  # its line search keeps the error from growing
                loss = float(opt.step(closure).detach())
            else:
                loss = self._guarded_step(opt, closure, params, lr)
            done += 1
            self.steps += 1
            if not math.isfinite(loss):
                return -1
            self.curve.add(self.steps, math.sqrt(loss) * self.y_scale)
        return done

    def _guarded_step(self, opt: torch.optim.Optimizer, closure, params: list, lr: float) -> float:
        """One step of adam or sgd at lr * factor, undone (and the factor halved) if it raised the loss."""
        before = [p.detach().clone() for p in params]
        loss0 = float(closure().detach())
        for group in opt.param_groups:
            group["lr"] = lr * self.factor
        opt.step()
        with torch.no_grad():
            loss1 = float(mse(self.model(self.u), self.t))
            if math.isfinite(loss0) and not loss1 <= loss0 * (1 + self.TOLERANCE):
                for p, b in zip(params, before):
                    p.copy_(b)
                self.factor = max(self.factor / 2, 1e-6)
                return loss0
        self.factor = min(self.factor * 1.1, 1.0)
        return loss1

    def view(self) -> uni.OneHiddenLayer:
        """A copy of the network that takes x and gives y in the target's own units."""
        model = copy.deepcopy(self.model)
        model.rescale(self.x_shift, self.x_scale, self.y_shift, self.y_scale)
        return model


def measure(live: LiveFit, output: np.ndarray | None = None) -> dict:
    """Max and RMS error of the network's output (on GRID, if already computed) against its target, on GRID."""
    diff = (live.curves()[1] if output is None else output) - live.grid_target
    return {"max_error": float(np.abs(diff).max()), "rms_error": float(np.sqrt(np.mean(diff**2)))}


# drawing -----------------------------------------------------------------------------------------------------
