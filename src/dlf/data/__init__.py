"""Data sets: where they live (`paths`), the IDX format (`idx`), MNIST (`mnist`) and `dlf data download`.

Importing this package does not import torch; `load_mnist` does, when first called.
"""

from dlf.data.mnist import MNIST_FILES, load_mnist
from dlf.data.paths import find_data_dir, locate

__all__ = ["MNIST_FILES", "find_data_dir", "load_mnist", "locate"]
