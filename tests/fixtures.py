"""Tiny MNIST-like data sets, written on the fly as IDX files for tests.

`make_mnist_fixture(root)` writes `root/mnist/{train,t10k}-{images,labels}-idx?-ubyte[.gz]` with synthetic
"digits": class k is a blurred bar through the centre at angle k * 18 degrees, shifted by up to 2 pixels, with
random ink strength and noise. Classes are balanced and the files are deterministic for a given seed. A small
model learns them quickly: softmax regression on the default 200 training images scores about 95% on the 100
test images (chance: 10%). Use it with `load_mnist(split, data_dir=root)` or `DLF_DATA_DIR=root`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dlf.data.idx import write_idx
from dlf.data.mnist import MNIST_FILES, SUBDIR


def digit_prototypes() -> np.ndarray:
    """(10, 28, 28) float in [0, 1]: class k is a bar (half-length 9 px, width ~3 px) through the centre at k * 18°."""
    yy, xx = np.mgrid[0:28, 0:28] - 13.5  # (28, 28) each, centred
    theta = np.pi * np.arange(10) / 10  # (10,)
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    along = xx * cos + yy * sin  # (10, 28, 28) distance along the bar
    across = -xx * sin + yy * cos  # (10, 28, 28) distance from the bar's axis
    ends = np.clip(np.abs(along) - 9.0, 0.0, None)  # rounded ends
    return np.exp(-(across**2 + ends**2) / (2 * 1.5**2))


def synthetic_digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n images uint8 (n, 28, 28) and labels uint8 (n,), classes balanced (n // 10 or one more each)."""
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)  # (n,)
    protos = digit_prototypes()
    shifts = rng.integers(-2, 3, size=(n, 2))  # (n, 2) rows, cols
    images = np.empty((n, 28, 28), dtype=np.float64)
    for i in range(n):  # one np.roll per image; n is small in tests
        images[i] = np.roll(protos[labels[i]], tuple(shifts[i]), axis=(0, 1))
    images *= rng.uniform(0.7, 1.0, size=(n, 1, 1))  # ink strength
    images += rng.normal(0.0, 0.08, size=images.shape)  # sensor noise
    return np.clip(np.rint(images * 255), 0, 255).astype(np.uint8), labels


def make_mnist_fixture(
    root: str | os.PathLike, n_train: int = 200, n_test: int = 100, seed: int = 0, gz: bool = True
) -> Path:
    """Write a tiny MNIST to `root/mnist/` (gzipped when `gz`) and return `root`, usable as a data dir."""
    root = Path(root)
    folder = root / SUBDIR
    rng_train, rng_test = (np.random.default_rng([seed, k]) for k in (0, 1))
    for split, n, rng in (("train", n_train, rng_train), ("test", n_test, rng_test)):
        images, labels = synthetic_digits(n, rng)
        image_name, label_name = MNIST_FILES.for_split(split)
        suffix = ".gz" if gz else ""
        write_idx(folder / (image_name + suffix), images, gzip=gz)
        write_idx(folder / (label_name + suffix), labels, gzip=gz)
    return root
