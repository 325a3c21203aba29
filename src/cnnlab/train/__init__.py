"""Training: configuration, optimizers and schedules, checkpoints, the Trainer loop."""

from cnnlab.train.config import TrainConfig

__all__ = ["TrainConfig"]
