"""MNIST: handwritten digits 0-9 as 28x28 grey images, pixel values 0 (white) to 255 (black ink).

LeCun, Cortes and Burges (1998): 60,000 training and 10,000 test images, built from NIST Special Databases 1
and 3. The four IDX files (see `dlf.data.idx`) live in `<data root>/mnist/`, gzipped or not; `dlf data download
mnist` fetches them and `dlf.data.paths` explains how the data root is found.

    images, labels = load_mnist("train")   # uint8 (60000, 28, 28), int64 (60000,)

Loads are cached in memory per (folder, split), so a second load in the same process is free. The cached
tensors are shared: treat them as read-only (`images.float() / 255` makes a new tensor, as usual).

Binarized MNIST (for the generative models: vae, pixelcnn) is made here too, in one way for all of them.
Training images are binarized afresh each time a batch is used ("dynamic binarization": each pixel is
Bernoulli(intensity / 255)), which acts as a regulariser; the test set is binarized once, with the fixed seed
TEST_BINARIZATION_SEED, so every run and every --seed is scored on the same 10,000 binary images:

    x = binarize(images)                                      # float (B, 784) of 0s and 1s, new draws each call
    test = binarize(x_test, torch.Generator().manual_seed(TEST_BINARIZATION_SEED))   # the fixed binary test set
"""

from __future__ import annotations

import os
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlf.data.idx import read_idx
from dlf.data.paths import find_file, locate
from dlf.errors import ConfigError, DataError

if TYPE_CHECKING:
    import torch

SUBDIR = "mnist"
SPLITS = ("train", "test")
N_CLASSES = 10
IMAGE_SHAPE = (28, 28)
TEST_BINARIZATION_SEED = 12345  # the same binary test set for every run and every --seed


@dataclass(frozen=True)
class MnistFiles:
    """The four standard MNIST file names, without the `.gz` that the downloaded copies carry."""

    train_images: str = "train-images-idx3-ubyte"
    train_labels: str = "train-labels-idx1-ubyte"
    test_images: str = "t10k-images-idx3-ubyte"
    test_labels: str = "t10k-labels-idx1-ubyte"

    @property
    def names(self) -> tuple[str, ...]:
        return astuple(self)

    def for_split(self, split: str) -> tuple[str, str]:
        """(images file, labels file) of `split`, "train" or "test"."""
        if split not in SPLITS:
            raise ConfigError(f"MNIST split must be 'train' or 'test' (got {split!r})")
        return (self.train_images, self.train_labels) if split == "train" else (self.test_images, self.test_labels)


MNIST_FILES = MnistFiles()

# sha256 of each file's UNCOMPRESSED bytes: identical for LeCun's original .gz files and any re-compressed copy.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# (folder, split) -> (file stamps, images, labels); the stamps catch files replaced on disk since the load
_CACHE: dict[tuple[str, str], tuple[tuple, torch.Tensor, torch.Tensor]] = {}


def mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding all four MNIST files (see `dlf.data.paths.locate`)."""
    return locate(SUBDIR, MNIST_FILES.names, data_dir)


def check_mnist(images: np.ndarray, labels: np.ndarray, where: str | os.PathLike = "MNIST") -> None:
    """Raise `DataError` unless images are uint8 (N, 28, 28) and labels are N digits 0..9."""
    fix = "delete the files and run 'dlf data download mnist'"
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{where}: MNIST images must be uint8 (N, 28, 28), got {images.dtype} {images.shape}; {fix}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{where}: {len(images)} images but labels of shape {labels.shape}; {fix}")
    if len(labels) and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise DataError(f"{where}: labels must be 0..9, found {labels.min()}..{labels.max()}; {fix}")


def _stamp(paths: list[Path]) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


def load_mnist(split: str = "train", data_dir: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST `split` ("train" or "test") as (images uint8 (N, 28, 28), labels int64 (N,)).

    The files are found with `dlf.data.paths.locate` (`data_dir`, then `$DLF_DATA_DIR`, then `~/.cache/dlf`);
    missing or damaged files raise a one-line `DataError` that names the fix.
    """
    import torch  # here, not at the top, so that `dlf data download` does not pay for importing torch

    names = MNIST_FILES.for_split(split)
    folder = mnist_dir(data_dir)
    paths = [find_file(folder, name) for name in names]
    stamp = _stamp(paths)
    key = (str(folder.resolve()), split)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1], hit[2]
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    check_mnist(images, labels, folder)
    x = torch.from_numpy(images)  # (N, 28, 28) uint8
    y = torch.from_numpy(labels.astype(np.int64))  # (N,)
    _CACHE[key] = (stamp, x, y)
    return x, y


def binarize(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 784) of 0s and 1s, each pixel Bernoulli(intensity / 255)."""
    import torch

    probs = images.flatten(1).float() / 255.0
    return torch.bernoulli(probs, generator=generator)


def clear_cache() -> None:
    """Forget every cached load."""
    _CACHE.clear()
