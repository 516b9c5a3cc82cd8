"""dlf: Deep Learning Fundamentals, the lecture as runnable, tested experiments."""

__version__ = "0.1.0"
