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
        self._opt: torch.optim.Optimizer | None = None  # lbfgs's, when it trains
        self.moments: dict | None = None  # adam's or sgd's memory of earlier gradients (see `train_together`)

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
        self._opt = self.moments = None  # the optimiser's memory of earlier gradients no longer fits
        self.curve.add(self.steps, self.rms())

    def train(self, deadline: float, max_steps: int, lr: float, optimizer: str) -> int:
        """Optimiser steps until perf_counter() passes `deadline` (at least one); -1 if the loss blew up."""
        if optimizer != "lbfgs":
            return train_together([self], deadline, max_steps, [lr], optimizer)[0]
        if self._opt is None:  # its line search keeps the error from growing
            self._opt = uni._optimizer("lbfgs", list(self.model.parameters()), 1.0)

        def closure() -> torch.Tensor:
            self._opt.zero_grad()
            loss = mse(self.model(self.u), self.t)
            loss.backward()
            return loss

        done = 0
        while done < max_steps and (done == 0 or time.perf_counter() < deadline):
            loss = float(self._opt.step(closure).detach())
            done += 1
            self.steps += 1
            if not math.isfinite(loss):
                return -1
            self.curve.add(self.steps, math.sqrt(loss) * self.y_scale)
        return done

    def view(self) -> uni.OneHiddenLayer:
        """A copy of the network that takes x and gives y in the target's own units."""
        model = copy.deepcopy(self.model)
        model.rescale(self.x_shift, self.x_scale, self.y_shift, self.y_scale)
        return model


BETAS, EPS, MOMENTUM = (0.9, 0.999), 1e-8, 0.9  # torch.optim.Adam's defaults; SGD's momentum (uni._optimizer)


def train_together(fits: list[LiveFit], deadline: float, max_steps: int, lrs: list[float], optimizer: str
                   ) -> list[int]:
    """Adam or SGD (with momentum) steps for several networks at once, as `LiveFit.train` gives each alone.

    The networks must share their activation (their widths, targets, step sizes and optimiser memories may
    differ): their weights are stacked into one network per row, a narrower one padded with units whose weights
    are 0 and stay 0 (their gradients are masked out), a step computes every row's error, gradient and update in
    the same few tensor operations, and each row keeps or undoes its own step as `LiveFit` says. A step of ten
    such networks costs about twice a step of one, so a worker that trains a classroom's networks together
    (dlf.explore.workers) gives each far more steps than it would in turn. The update is torch.optim.Adam's
    (or SGD's) written out per row, because each row has its own step count and step size.

    Steps until perf_counter() passes `deadline` (at least one), at most `max_steps`; for each network the steps
    it made, or -1 if its loss blew up (then all stop at that step).
    """
    first = fits[0]
    if any(f.activation != first.activation for f in fits):
        raise ValueError("networks trained together must share their activation")
    names = ("w", "b", "v", "c")
    widths = [f.width for f in fits]
    width = max(widths)
    moments = [_moments(f, optimizer) for f in fits]
    params = [_stack([getattr(f.model, name).detach() for f in fits], width).requires_grad_() for name in names]
    m = [_stack([mo["m"][i] for mo in moments], width) for i in range(4)]  # (k, width) x 3 and (k,), as params
    s = [_stack([mo["s"][i] for mo in moments], width) for i in range(4)] if optimizer == "adam" else []
    units = None if min(widths) == width else (torch.arange(width) < torch.tensor(widths)[:, None]).float()
    n = torch.tensor([float(mo["n"]) for mo in moments], dtype=torch.float64)
    lr = torch.tensor(lrs, dtype=torch.float64)
    factor = torch.tensor([f.factor for f in fits], dtype=torch.float64)
    t = torch.stack([f.t for f in fits])  # (k, POINTS)
    u = first.u[None, :, None]  # (1, POINTS, 1): every network is trained on the same points
    act = first.model.activation

    def errors(w, b, v, c) -> torch.Tensor:  # each row's mean squared error: (k,)
        out = (act(u * w[:, None, :] + b[:, None, :]) * v[:, None, :]).sum(-1) + c[:, None]
        return ((out - t) ** 2).mean(1)

    done, blown = 0, torch.zeros(len(fits), dtype=torch.bool)
    while done < max_steps and (done == 0 or time.perf_counter() < deadline):
        before = [p.detach().clone() for p in params]
        loss0 = errors(*params)
        grads = torch.autograd.grad(loss0.sum(), params)  # row i's gradient is that of its own error
        if units is not None:  # a padded unit's weights stay 0 (v = 0: it adds nothing to the output)
            grads = [g * units if g.dim() == 2 else g for g in grads]
        loss0 = loss0.detach()
        n += 1
        step = lr * factor  # (k,) this step's size for each row
        if optimizer == "adam":  # Adam's bias corrections, for each row's step count
            size, root = _rows(step / (1 - BETAS[0] ** n)), _rows((1 - BETAS[1] ** n).sqrt())
        else:
            size = _rows(step)
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(params, grads)):
                if optimizer == "adam":
                    m[i].lerp_(g, 1 - BETAS[0])
                    s[i].mul_(BETAS[1]).addcmul_(g, g, value=1 - BETAS[1])
                    p.sub_(size[p.dim()] * m[i] / (s[i].sqrt() / root[p.dim()] + EPS))
                else:
                    m[i].mul_(MOMENTUM).add_(g)  # the first step's momentum is the gradient itself (m starts at 0)
                    p.sub_(size[p.dim()] * m[i])
            loss1 = errors(*params)
            bad = torch.isfinite(loss0) & ~(loss1 <= loss0 * (1 + LiveFit.TOLERANCE))  # undo: the error would grow
            if bad.any():
                for p, old in zip(params, before):
                    p.copy_(torch.where(bad.view((-1,) + (1,) * (p.dim() - 1)), old, p))
            factor = torch.where(bad, (factor / 2).clamp(min=1e-6), (factor * 1.1).clamp(max=1.0))
            loss = torch.where(bad, loss0, loss1)
        done += 1
        for f, value in zip(fits, loss.tolist()):
            f.steps += 1
            if math.isfinite(value):
                f.curve.add(f.steps, math.sqrt(value) * f.y_scale)
        blown = ~torch.isfinite(loss)
        if blown.any():
            break
    for row, f in enumerate(fits):
        if len(fits) > 1:  # one network's tensors were trained in place
            with torch.no_grad():
                for i, name in enumerate(names):
                    own = (row,) if params[i].dim() == 1 else (row, slice(0, f.width))  # c, or the row's own units
                    getattr(f.model, name).copy_(params[i][own])
                    f.moments["m"][i].copy_(m[i][own])
                    if s:
                        f.moments["s"][i].copy_(s[i][own])
        f.moments["n"], f.factor, f._opt = int(n[row]), float(factor[row]), None
    return [-1 if b else done for b in blown.tolist()]


def _stack(rows: list[torch.Tensor], width: int) -> torch.Tensor:
    """The rows of a batch: one network's own tensor seen as a row (so training changes it in place), or a copy
    with each (width_i,) row padded with zeros to `width`."""
    if len(rows) == 1:
        return rows[0][None]
    return torch.stack([torch.nn.functional.pad(r, (0, width - len(r))) if r.dim() else r for r in rows])


def _rows(x: torch.Tensor) -> dict[int, torch.Tensor]:
    """A (k,) float64 tensor as float32, shaped to scale the rows of a (k,) and a (k, width) tensor."""
    x = x.float()
    return {1: x, 2: x[:, None]}


def _moments(fit: LiveFit, optimizer: str) -> dict:
    """The network's optimiser memory for `optimizer`, fresh (zeros) when it had none or another one's."""
    if fit.moments is None or fit.moments["name"] != optimizer:
        zeros = [torch.zeros_like(p) for p in (fit.model.w, fit.model.b, fit.model.v, fit.model.c)]
        fit.moments = {"name": optimizer, "n": 0, "m": zeros, "s": [z.clone() for z in zeros]}
    return fit.moments


def measure(live: LiveFit, output: np.ndarray | None = None) -> dict:
    """Max and RMS error of the network's output (on GRID, if already computed) against its target, on GRID."""
    diff = (live.curves()[1] if output is None else output) - live.grid_target
    return {"max_error": float(np.abs(diff).max()), "rms_error": float(np.sqrt(np.mean(diff**2)))}


# drawing -----------------------------------------------------------------------------------------------------
