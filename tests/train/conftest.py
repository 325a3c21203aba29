"""Helpers of the Trainer tests: a small digits split, a tiny, fast configuration and a
diverging loss."""

import torch

from cnnlab import TrainConfig
from cnnlab.data import load_data
from cnnlab.data.datasets import DataSplits


def small_digits(train_size: int = 256) -> DataSplits:
    """The digits splits with only the first ``train_size`` training images."""
    data = load_data("digits", seed=0)
    return DataSplits(
        data.name, data.train.subset(torch.arange(train_size)), data.val, data.test, data.classes
    )


def small_sgd_config(**kwargs) -> TrainConfig:
    """One epoch of plain SGD on a tiny CNN without augmentation; ``kwargs`` override."""
    base = dict(
        model="simple_cnn",
        model_kwargs={"channels": [4, 8], "bn": False},
        epochs=1,
        batch_size=32,
        augment=[],
        label_smoothing=0.0,
        optimizer="sgd",
        momentum=0.0,
        scheduler="constant",
        warmup_epochs=0.0,
        lr=0.05,
        seed=3,
    )
    return TrainConfig(**{**base, **kwargs})


class NanAfter:
    """A cross-entropy that returns NaN from its ``n``-th call on: a diverging run."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, logits, labels):
        self.calls += 1
        loss = torch.nn.functional.cross_entropy(logits, labels)
        return loss * float("nan") if self.calls >= self.n else loss
