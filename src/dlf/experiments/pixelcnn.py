"""Experiment `pixelcnn`: an autoregressive PixelCNN on binarized MNIST (the model: dlf.models.pixelcnn).

Training images are binarized afresh each time a batch is used (each pixel Bernoulli(intensity / 255)); the test
set is binarized once with a fixed seed, so every run is scored on the same binary images (the binarization the
vae experiment uses too: dlf.data.mnist.binarize). The summary reports the exact test NLL, -log p(x) in nats per
image, and the same in bits per dimension (nats / (784 ln 2)). The paper's PixelCNN reaches 81.30 nats.

The figures: train and test NLL against the step, a grid of samples drawn pixel by pixel, and completions (the
top half of a test digit is given, the model draws the bottom half).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import torch

from dlf.config import Range, train_bytes
from dlf.data.mnist import TEST_BINARIZATION_SEED, binarize, load_mnist
from dlf.models.pixelcnn import PIXELS, SIDE, PixelCNN
from dlf.plotting import figure, plot_train_val, show_images
from dlf.train import Task, TensorSource, TrainConfig, Trainer


@dataclass
class Config(TrainConfig):
    channels: Annotated[int, Range(1, 4096)] = 48
    """Channels of the residual stream (a bottleneck block works at half of it inside)."""
    blocks: Annotated[int, Range(0, 256)] = 8
    """Residual blocks after the 7x7 mask-A input convolution (each adds one row of receptive field upwards)."""
    block: Literal["bottleneck", "plain"] = "plain"
    """Residual block: 'plain' (ReLU, 3x3 mask B) or 'bottleneck' (1x1 down, 3x3 mask B, 1x1 up; paper Fig. 5)."""
    epochs: float = 20.0
    """Passes over the training set (on a CPU, --time-limit usually ends the run first)."""
    batch_size: int = 64
    """Global batch size (split evenly over processes under torchrun)."""
    lr: float = 2e-3
    """Peak learning rate (cosine decay; with --time-limit it follows the clock)."""
    grad_clip: float = 1.0
    """Clip the gradient's global norm to this value if > 0."""
    samples: Annotated[int, Range(0, 10_000)] = 64
    """Images drawn pixel by pixel for the samples figure at the end (0: none)."""
    completions: Annotated[int, Range(0, 10_000)] = 8
    """Test digits whose bottom half is drawn for the completion figure (0: none); 4 completions each."""
    val_size: Annotated[int, Range(0, 10_000)] = 1000
    """Test images scored at each evaluation during training, for the curves (0: all); the final score uses all."""
    train_size: Annotated[int, Range(0, 60_000)] = 0
    """Use only the first N training images (0: all 60,000)."""
    test_size: Annotated[int, Range(0, 10_000)] = 0
    """Use only the first N test images (0: all 10,000)."""

    reads_data: ClassVar[bool] = True

    def memory_bytes(self) -> tuple[float, str]:
        """A 3x3 masked convolution per block, and about 3 maps of 28x28xchannels per block of a batch."""
        c, maps = self.channels, self.blocks * 3 + 2
        return train_bytes(49 * c + self.blocks * 9 * c * c + 2 * c * c, self.batch_size * 784 * c * maps), \
            "--channels, --blocks or --batch-size"


def build_model(cfg: Config) -> PixelCNN:
    return PixelCNN(cfg.channels, cfg.blocks, cfg.block)


class PixelCNNTask(Task):
    """The loss is the exact negative log-likelihood of each binary image, factorised pixel by pixel in raster order
    (van den Oord et al. 2016, eq. 1), one masked-convolution pass giving every conditional at once:

        -log p(x) = -sum_i log p(x_i | x_1 ... x_{i-1}),   p(x_i = 1 | x_<i) = sigmoid(logit_i)   (nats per image)

    Train on fresh binarizations of uint8 images; validate, in float32, on images that are binarized already."""

    def __init__(self, model: PixelCNN):
        super().__init__()
        self.model = model

    def training_step(self, batch):
        (images,) = batch
        return {"loss": self.model.nll(self._layout(binarize(images))).mean()}

    def validation_step(self, batch):
        (x,) = batch
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):  # the reported NLL in full precision
            return {"loss": self.model.nll(self._layout(x.float())).mean()}

    @staticmethod
    def _layout(x: torch.Tensor) -> torch.Tensor:
        return x.view(-1, 1, SIDE, SIDE).contiguous(memory_format=torch.channels_last)


def load_data(cfg: Config, data_dir) -> tuple[TensorSource, torch.Tensor]:
    """Training images (uint8, binarized per batch) and the fixed binary test set (float (N, 784))."""
    x_train, _ = load_mnist("train", data_dir)
    x_test, _ = load_mnist("test", data_dir)
    if cfg.train_size:
        x_train = x_train[:cfg.train_size]
    if cfg.test_size:
        x_test = x_test[:cfg.test_size]
    test = binarize(x_test, torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
    return TensorSource(x_train), test


def run(cfg: Config, run) -> dict:
    train, test = load_data(cfg, run.data_dir)
    model = build_model(cfg)
    task = PixelCNNTask(model)
    model.to(memory_format=torch.channels_last)  # NHWC: faster convolutions on GPUs and (1.2-1.6x here) on CPUs
    trainer = Trainer(cfg, run, task, train, TensorSource(test[:cfg.val_size or len(test)]))
    result = trainer.fit()
    nats = trainer.evaluate(TensorSource(test))["loss"]
    summary = {
        "test_nll_nats": nats,
        "test_bits_per_dim": nats / (PIXELS * math.log(2)),
        "train_loss": result.train.get("loss"),
        "steps": result.step,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    plot_train_val(run, (("loss", "NLL (nats per image)"),))
    start = time.perf_counter()
    model.eval()
    if cfg.samples:
        g = torch.Generator().manual_seed(cfg.seed)
        plot_grid(run, model.sample(cfg.samples, g).cpu(), f"{cfg.samples} samples, drawn pixel by pixel")
    if cfg.completions:
        plot_completions(run, model, test[:cfg.completions], torch.Generator().manual_seed(cfg.seed + 1))
    run.timing["sampling_s"] = round(time.perf_counter() - start, 3)
    return summary


def top_half_mask() -> torch.Tensor:
    """(784,) bool: True on the top 14 rows (the given pixels of a completion)."""
    return torch.arange(PIXELS) < PIXELS // 2


def complete(model: PixelCNN, x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k completions of each binary image x (N, 784) from its top half: (k, N, 784)."""
    given = x.repeat(k, 1)  # (k * N, 784)
    out = model.sample(len(given), generator, given=given, mask=top_half_mask())
    return out.view(k, len(x), PIXELS)


def plot_grid(run, images: torch.Tensor, title: str, cols: int = 8) -> None:
    rows = math.ceil(len(images) / cols)
    fig, axes = figure(size=(0.75 * cols, 0.75 * rows + 0.4))
    show_images(axes[0][0], images, cols)
    axes[0][0].set_title(title)
    run.save_figure(fig, "samples")


def plot_completions(run, model: PixelCNN, x: torch.Tensor, generator: torch.Generator, k: int = 4) -> None:
    """Columns: test digits. Rows: the digit, its top half (what the model is given), k completions."""
    drawn = complete(model, x, k, generator).cpu()  # (k, N, 784)
    half = x * top_half_mask()  # (N, 784)
    rows = torch.cat([x[None], half[None], drawn])  # (2 + k, N, 784)
    fig, axes = figure(size=(0.75 * len(x) + 0.3, 0.75 * len(rows) + 0.5))
    show_images(axes[0][0], rows.reshape(-1, PIXELS), len(x))
    axes[0][0].set_title(f"test digit, its top half, {k} completions")
    run.save_figure(fig, "completions")


def sample(run_dir, cfg: Config, opts) -> str:
    """`dlf sample`: draw opts.n images pixel by pixel (784 forward passes), as a PNG grid."""
    from dlf.runtime import pick_device
    from dlf.sampling import load_weights, output_path, save_image_grid

    model = build_model(cfg)
    found = load_weights(run_dir, PixelCNNTask(model), "pixelcnn")
    path = output_path(run_dir, opts.out, "samples.png", ".png")
    device = torch.device("cpu") if cfg.device == "cpu" else pick_device("auto")  # a GPU if there is one
    model.to(device, memory_format=torch.channels_last)
    images = model.sample(opts.n, torch.Generator().manual_seed(opts.seed))
    save_image_grid(images, path, f"PixelCNN: {opts.n} samples, drawn pixel by pixel (seed {opts.seed})")
    return f"{opts.n} samples from {found.name}: {path}"
