"""What the Trainer trains: the `Task` protocol and the `Batch` it moves.

A task says what differs between classification, segmentation, detection,
reconstruction and metric learning (Lightning's ``LightningModule`` in small):
the model it builds, how a training batch is prepared, the loss, the metrics of
a training batch and of the validation split, which metric chooses the best
epoch, and the final evaluation that writes the run's metrics, figures and
report.  The `Trainer` is one loop for all of them;
concrete tasks live in `cnnlab.tasks`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from cnnlab.data import DataSplits
from cnnlab.data.loader import Loader

if TYPE_CHECKING:
    from cnnlab.train.config import TrainConfig


@dataclass
class Batch:
    """One batch as training sees it.

    ``inputs`` go into the model; ``targets`` into the loss (labels, soft
    labels after Mixup, masks, clean images ...); ``labels`` are the hard
    labels the training metrics are measured against (``targets`` when the
    two are the same).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.inputs)

    def replace(self, **changes: Any) -> Batch:
        return dataclasses.replace(self, **changes)


class Task(Protocol):
    """The part of training that depends on what is learned."""

    name: str
    monitors: tuple[str, ...]  # the validation metrics that can choose the best epoch

    def build_model(
        self, config: TrainConfig, data: DataSplits, mean: torch.Tensor, std: torch.Tensor
    ) -> nn.Module:
        """The network for ``data``, taking inputs in [0, 1] (normalization in front)."""
        ...

    def batches(self, loader: Loader, generator: torch.Generator, epoch: int) -> Iterator[Batch]:
        """Training batches of one epoch: the loader's, augmented with ``generator``."""
        ...

    def loss(self, output: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, prediction)`` of a model output; the prediction feeds `batch_metrics`."""
        ...

    def batch_metrics(self, prediction: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Per-batch sums of the training metrics (e.g. ``{"acc": correct count}``)."""
        ...

    def validate(self, model: nn.Module, dataset: Any, device: torch.device) -> dict[str, float]:
        """Validation metrics of ``model`` on ``dataset`` (``val_loss`` among them)."""
        ...

    def evaluate(self, run_dir: Path, split: str, device: str) -> dict[str, Any]:
        """The final evaluation of a finished run: writes metrics, figures and the report."""
        ...
