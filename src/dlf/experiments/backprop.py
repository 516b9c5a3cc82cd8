"""Experiment `backprop`: the hand-written backward pass against PyTorch's autograd, step by step.

Two copies of one 2-layer network start from the same weights: one is trained with dlf.fundamentals.backprop
(every gradient from a backward rule written out in numpy), the other is the same network in PyTorch, its
gradients from loss.backward(). Both see the same batches in float64 and take the same SGD-with-momentum step,
so if the hand-written rules are right the two losses agree at every step to rounding error (about 1e-15),
and the weights end up the same. summary.json counts the steps_in_agreement, those before the first step whose
two losses differ by more than 1e-9 (relative). At a learning rate so high that training turns chaotic (try
--lr 10) the copies do part ways: the two libraries round differently in the last bit, and chaos amplifies it.
The plot shows both loss curves and their difference; timing.json gives the time per training step of each
(both on the CPU: numpy has no GPU).

Data: MNIST when its files are found (`dlf data download mnist`), else CS231n's two-dimensional spiral of three
classes, which needs no download (--data chooses).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch

from dlf.config import BaseConfig, Range
from dlf.errors import DataError, DlfError
from dlf.fundamentals import backprop as bp
from dlf.plotting import figure


@dataclass
class Config(BaseConfig):
    data: Literal["auto", "mnist", "spiral"] = "auto"
    """auto: MNIST when its files are found, else the spiral (3 classes in the plane, no download needed)."""
    hidden: Annotated[int, Range(1, 4096)] = 128
    """Hidden units of the 2-layer network."""
    activation: Literal["relu", "tanh", "sigmoid"] = "relu"
    """Activation of the hidden layer."""
    steps: Annotated[int, Range(1, 1_000_000)] = 300
    """Training steps (mini-batches) of each of the two copies."""
    batch_size: Annotated[int, Range(1, 60_000)] = 64
    """Examples per step."""
    lr: Annotated[float, Range(0, 10, low_open=True)] = 0.05
    """Learning rate of SGD with momentum, v <- momentum v + g, w <- w - lr v (the same for both copies)."""
    momentum: Annotated[float, Range(0, 1, high_open=True)] = 0.9
    """Momentum of SGD (0: plain gradient descent)."""
    spiral_points: Annotated[int, Range(10, 100_000)] = 300
    """Points per class of the spiral (a fifth of them are held out for testing)."""

    reads_data: ClassVar[bool] = True

    def memory_bytes(self) -> tuple[float, str]:
        """MNIST as bytes plus the float64 test set, two copies of the network with gradients and momentum, and
        the activations of one batch (float64)."""
        params = 785 * self.hidden + (self.hidden + 1) * 10
        batch = self.batch_size * (784 + 4 * self.hidden + 40)
        return 70_000 * 784 + 10_000 * 784 * 8 + 8 * (8 * params + 4 * batch), "--hidden or --batch-size"


def spiral(points: int, rng: np.random.Generator, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """CS231n's spiral: `classes` arms of `points` noisy points each; x (N, 2) float64, y (N,) int64."""
    r = np.tile(np.linspace(0.0, 1.0, points), classes)  # (N,) radius
    y = np.repeat(np.arange(classes), points)  # (N,)
    t = y * (2 * np.pi / classes) + r * 4.0 + rng.normal(0.0, 0.2, size=r.shape)  # angle
    return np.stack([r * np.sin(t), r * np.cos(t)], axis=1), y


def load(cfg: Config, data_dir, rng: np.random.Generator) -> tuple[str, np.ndarray, np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """(name, x_train, y_train, x_test, y_test) in float64 / int64."""
    if cfg.data in ("auto", "mnist"):
        from dlf.data.mnist import load_mnist

        try:
            (xtr, ytr), (xte, yte) = load_mnist("train", data_dir), load_mnist("test", data_dir)
        except DataError:
            if cfg.data == "mnist":
                raise
        else:
            # training images stay bytes (scaled per batch, see as_float); the test set is scaled once
            return "mnist", xtr.reshape(len(xtr), -1).numpy(), ytr.numpy(), as_float(xte.reshape(len(xte), -1)
                                                                                    .numpy()), yte.numpy()
    x, y = spiral(cfg.spiral_points, rng)
    test = rng.permutation(len(x))[: len(x) // 5]
    mask = np.zeros(len(x), dtype=bool)
    mask[test] = True
    return "spiral", x[~mask], y[~mask], x[mask], y[mask]


def as_float(x: np.ndarray) -> np.ndarray:
    """Pixels as bytes 0..255 -> float64 in [0, 1]; float data unchanged."""
    return x / 255.0 if x.dtype == np.uint8 else x


def torch_copy(net: bp.MLP, activation: str) -> torch.nn.Sequential:
    """The same network in PyTorch, float64, with the same weights (nn.Linear stores W transposed)."""
    mods: list[torch.nn.Module] = []
    for layer in net.layers:
        if isinstance(layer, bp.Linear):
            lin = torch.nn.Linear(*layer.w.shape, dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.w.T))
                lin.bias.copy_(torch.from_numpy(layer.b))
            mods.append(lin)
        else:
            mods.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[activation]())
    return torch.nn.Sequential(*mods)


def train_both(cfg: Config, net: bp.MLP, model: torch.nn.Sequential, x: np.ndarray, y: np.ndarray,
               rng: np.random.Generator, run) -> dict[str, list[float]]:
    """The two copies, step by step on the same batches; the loss and time of every step of each."""
    opt = bp.SGD(net.params(), cfg.lr, cfg.momentum)
    topt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    out: dict[str, list[float]] = {"numpy": [], "torch": [], "numpy_s": [], "torch_s": []}
    order = np.empty(0, dtype=np.int64)
    for step in range(cfg.steps):
        if len(order) < cfg.batch_size:  # a fresh shuffle for every pass over the data
            order = np.concatenate([order, rng.permutation(len(x))])
        idx, order = order[: cfg.batch_size], order[cfg.batch_size :]
        xb, yb = as_float(x[idx]), y[idx]  # (B, d) float64, (B,)
        t0 = time.perf_counter()
        loss = net.loss(xb, yb)
        opt.step(net.backward())  # the hand-written backward pass
        t1 = time.perf_counter()
        tloss = torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(yb))
        topt.zero_grad()
        tloss.backward()  # PyTorch's autograd
        topt.step()
        t2 = time.perf_counter()
        if not np.isfinite(loss):
            raise DlfError(f"training diverged at step {step + 1}: the loss of the hand-written copy is {loss}; "
                           f"lower --lr (now {cfg.lr:g}) or --momentum")
        for key, value in (("numpy", loss), ("torch", tloss.item()), ("numpy_s", t1 - t0), ("torch_s", t2 - t1)):
            out[key].append(value)
        run.log(step, loss_numpy=loss, loss_torch=out["torch"][-1])
    return out


def _plot(cfg: Config, data: str, hist: dict[str, list[float]], run) -> None:
    fig, axes = figure(ncols=2, size=(5.0, 3.8))
    fig.set_layout_engine("constrained")
    ax, ax_diff = axes[0]
    steps = np.arange(1, cfg.steps + 1)
    ax.plot(steps, hist["numpy"], lw=2.5, label="hand-written backward (numpy)")
    ax.plot(steps, hist["torch"], lw=1.2, ls="--", color="black", label="PyTorch autograd")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy of the batch (log scale)")
    ax.legend(fontsize=8)
    ax.set_title(f"{data}: 2-layer net, {cfg.hidden} {cfg.activation} units", fontsize=9)
    diff = np.abs(np.array(hist["numpy"]) - np.array(hist["torch"]))
    ax_diff.plot(steps, np.maximum(diff, 1e-18), ".", ms=3)
    ax_diff.set_yscale("log")
    ax_diff.set_ylim(3e-19, 1e-6)
    ax_diff.set_xlabel("training step")
    ax_diff.set_ylabel("|loss difference| (log scale; 0 drawn at 1e-18)")
    ax_diff.set_title(f"|numpy loss - torch loss| (largest {diff.max():.2g})", fontsize=9)
    run.save_figure(fig, "backprop")


def run(cfg: Config, run) -> dict:
    rng = np.random.default_rng(cfg.seed)
    data, xtr, ytr, xte, yte = load(cfg, run.data_dir, rng)
    net = bp.MLP((xtr.shape[1], cfg.hidden, int(ytr.max()) + 1), act=cfg.activation, rng=rng)
    model = torch_copy(net, cfg.activation)
    hist = train_both(cfg, net, model, xtr, ytr, rng, run)
    run.timing["numpy_ms_per_step"] = round(1e3 * float(np.median(hist["numpy_s"])), 4)
    run.timing["torch_ms_per_step"] = round(1e3 * float(np.median(hist["torch_s"])), 4)
    run.count("examples", len(hist["numpy_s"]) * cfg.batch_size, float(np.sum(hist["numpy_s"])))  # the numpy copy
    _plot(cfg, data, hist, run)
    weights = [p.detach().numpy() for p in model.parameters()]
    ours = [net.layers[0].w.T, net.layers[0].b, net.layers[2].w.T, net.layers[2].b]
    with torch.no_grad():
        torch_acc = float((model(torch.from_numpy(xte)).argmax(-1).numpy() == yte).mean())
    diff = np.abs(np.subtract(hist["numpy"], hist["torch"]))  # (steps,)
    apart = np.flatnonzero(diff > 1e-9 * np.maximum(1.0, np.abs(hist["torch"])))
    return {"data": data, "train_examples": len(xtr), "initial_loss": hist["numpy"][0],
            "final_loss_numpy": hist["numpy"][-1], "final_loss_torch": hist["torch"][-1],
            "max_loss_diff": float(diff.max()), "steps_in_agreement": int(apart[0]) if len(apart) else cfg.steps,
            "max_weight_diff": float(max(np.max(np.abs(a - b)) for a, b in zip(ours, weights))),
            "test_accuracy_numpy": bp.accuracy(net, xte, yte), "test_accuracy_torch": torch_acc}
