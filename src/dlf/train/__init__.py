"""The shared training loop: Trainer, the Task contract, TrainConfig, checkpoints and DDP."""

from dlf.train.config import TrainConfig
from dlf.train.task import BatchSource, Task, TensorSource
from dlf.train.trainer import Trainer, TrainingDiverged, TrainingStopped, TrainResult

__all__ = ["TrainConfig", "Task", "BatchSource", "TensorSource", "Trainer", "TrainResult", "TrainingDiverged",
           "TrainingStopped"]
