"""What the three MNIST classifiers share: data, the classification Task, the final report and its plots."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from dlf.config import Range
from dlf.data.mnist import load_mnist
from dlf.errors import DlfError
from dlf.plotting import figure, plot_train_val
from dlf.rundir import Run
from dlf.train import Task, TensorSource, TrainConfig, Trainer

MEAN, STD = 0.1307, 0.3081  # of the MNIST training pixels scaled to [0, 1]
SHIFTS = (0, 1, 2, 3, 4)


@dataclass
class MnistConfig(TrainConfig):
    train_size: Annotated[int, Range(0, 60_000)] = 0
    """Use only the first N training images (0: all 60,000)."""
    test_size: Annotated[int, Range(0, 10_000)] = 0
    """Use only the first N test images (0: all 10,000)."""
    augment: bool = False
    """Shift each training image by up to 2 pixels at random."""

    reads_data: ClassVar[bool] = True


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 1, 28, 28), zero mean and unit variance over the training set."""
    return (images.float().unsqueeze(1) / 255.0 - MEAN) / STD


def shift(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Move every image dx pixels right and dy pixels down, filling with background (0)."""
    out = torch.zeros_like(images)
    h, w = images.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = images[..., ys, xs]
    return out


def random_shift(images: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """Each image moved by its own random offset in [-max_shift, max_shift]^2 (one vectorised gather)."""
    b, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)  # (B, H+2s, W+2s)
    oy = torch.randint(0, 2 * max_shift + 1, (b, 1), device=images.device)
    ox = torch.randint(0, 2 * max_shift + 1, (b, 1), device=images.device)
    rows = (oy + torch.arange(h, device=images.device))[:, :, None]  # (B, H, 1)
    cols = (ox + torch.arange(w, device=images.device))[:, None, :]  # (B, 1, W)
    return padded[torch.arange(b, device=images.device)[:, None, None], rows, cols]


class Classifier(Task):
    """Cross-entropy classification of uint8 images; the model maps (B, 1, 28, 28) to (B, 10) logits."""

    def __init__(self, model: nn.Module, augment: bool = False):
        super().__init__()
        self.model, self.augment = model, augment

    def training_step(self, batch):
        images, labels = batch
        if self.augment and self.training:
            images = random_shift(images)
        logits = self.model(normalize(images))
        loss = F.cross_entropy(logits.float(), labels)
        acc = (logits.argmax(1) == labels).float().mean()
        return {"loss": loss, "acc": acc}

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Logits for uint8 images, in batches."""
        self.eval()
        device = next(self.parameters()).device
        parts = [self.model(normalize(images[i:i + batch_size].to(device))).float().cpu()
                 for i in range(0, len(images), batch_size)]
        return torch.cat(parts)


def load_data(cfg: MnistConfig, data_dir) -> tuple[TensorSource, TensorSource]:
    x_train, y_train = load_mnist("train", data_dir)
    x_test, y_test = load_mnist("test", data_dir)
    if cfg.train_size:
        x_train, y_train = x_train[:cfg.train_size], y_train[:cfg.train_size]
    if cfg.test_size:
        x_test, y_test = x_test[:cfg.test_size], y_test[:cfg.test_size]
    return TensorSource(x_train, y_train), TensorSource(x_test, y_test)


def train_and_report(cfg: MnistConfig, run, model: nn.Module) -> dict:
    """Train `model` with the shared Trainer, then write the test figures and plots every MNIST run has."""
    train, test = load_data(cfg, run.data_dir)
    task = Classifier(model, augment=cfg.augment)
    trainer = Trainer(cfg, run, task, train, test)
    result = trainer.fit()
    images, labels = test.tensors
    logits = task.predict(images)
    pred = logits.argmax(1)
    summary = {
        "test_accuracy": float((pred == labels).float().mean()),
        "test_loss": float(F.cross_entropy(logits, labels)),
        "train_loss": result.train.get("loss"),
        "steps": result.step,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    for k in SHIFTS:
        summary[f"shift_acc_{k}"] = shifted_accuracy(task, images, labels, k)
    plot_curves(run)
    plot_confusion(run, confusion_matrix(pred, labels))
    plot_misclassified(run, images, labels, pred)
    plot_shift(run, {run.name: [summary[f"shift_acc_{k}"] for k in SHIFTS]})
    return summary


def shifted_accuracy(task: Classifier, images: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Test accuracy with every image moved k pixels, averaged over the four directions."""
    moves = [(0, 0)] if k == 0 else [(k, 0), (-k, 0), (0, k), (0, -k)]
    accs = [float((task.predict(shift(images, dx, dy)).argmax(1) == labels).float().mean()) for dx, dy in moves]
    return sum(accs) / len(accs)


def confusion_matrix(pred: torch.Tensor, labels: torch.Tensor, n: int = 10) -> torch.Tensor:
    return torch.bincount(labels * n + pred, minlength=n * n).view(n, n)  # rows: true, columns: predicted


def plot_curves(run) -> None:
    plot_train_val(run, (("loss", "loss"), ("acc", "accuracy")), log_scale=("loss",))


def plot_confusion(run, cm: torch.Tensor) -> None:
    fig, axes = figure(size=(5.2, 4.6))
    ax = axes[0][0]
    ax.imshow(cm.float().log1p().numpy(), cmap="Blues")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if i == j else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.grid(False)
    ax.set_title("confusion matrix (test set)")
    run.save_figure(fig, "confusion")


def plot_misclassified(run, images: torch.Tensor, labels: torch.Tensor, pred: torch.Tensor, n: int = 32) -> None:
    wrong = (pred != labels).nonzero().flatten()[:n]
    cols = 8
    fig, axes = figure(ncols=cols, nrows=max(1, (len(wrong) + cols - 1) // cols), size=(1.2, 1.4))
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong.tolist()):
        ax.imshow(images[i].numpy(), cmap="gray_r")
        ax.set_title(f"{int(labels[i])}→{int(pred[i])}", fontsize=9, color="crimson")
    fig.suptitle(f"misclassified test digits (true→predicted), {int((pred != labels).sum())} in all")
    run.save_figure(fig, "misclassified")


def plot_shift(run, curves: dict[str, list[float]], name: str = "shift") -> None:
    fig, axes = figure()
    ax = axes[0][0]
    for label, accs in curves.items():
        ax.plot(SHIFTS, accs, "o-", label=label)
    ax.set_xticks(SHIFTS)
    ax.set_xlabel("shift of every test image (pixels)")
    ax.set_ylabel("test accuracy")
    ax.set_title("translation invariance")
    ax.legend(loc="lower left", fontsize=7)  # the curves fall to the right: keep the lower left for the legend
    run.save_figure(fig, name)


def shift_label(config: dict) -> str:
    """How a run was trained, as far as translation goes: e.g. 'mnist-cnn, shift-augmented, 2 epochs'.

    A CNN trained on shifted digits against an MLP trained without would mix two effects, so the legend says."""
    augment = "shift-augmented" if config.get("augment") else "no augmentation"
    epochs = config.get("epochs")
    plural = "" if epochs == 1 else "s"
    budget = f", {epochs:g} epoch{plural}" if isinstance(epochs, (int, float)) and not config.get("max_steps") else ""
    return f"{config.get('experiment', '?')}, {augment}{budget}"


def compare_shift(run_dirs: list[str], out: str | None = None) -> Path:
    """One plot of test accuracy against shift for several finished MNIST runs (e.g. CNN against MLP)."""
    curves = {}
    for d in run_dirs:
        path = Path(d)
        try:
            summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
            name = config["experiment"]
        except (OSError, ValueError, KeyError, TypeError):
            raise DlfError(f"{path} is not a finished dlf run (no summary.json/config.json); run it first") from None
        if "shift_acc_0" not in summary:
            raise DlfError(f"{path} is a '{name}' run without shift accuracies; give mnist-mlp/cnn/rnn runs")
        curves[f"{shift_label(config)} ({path.name})"] = [summary[f"shift_acc_{k}"] for k in SHIFTS]
    target = Path(out) if out else Path(run_dirs[0]).parent / "shift-compare.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    plot_shift(Run(target.parent), curves, name=target.stem)
    return target
