"""Classification: one label per image, cross-entropy, accuracy.

The first `Task`: a network from the model zoo behind
its input normalization, training batches augmented on the device
(`Augment`), the cross-entropy loss with label
smoothing (Szegedy et al. 2016, Sec. 7) and auxiliary classifiers, accuracy
as the training and validation metric, and a final evaluation with
per-class precision/recall/F1, confusion matrices and the most confidently
misclassified images (`cnnlab.tasks.classification_eval`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab import runs
from cnnlab.data import DataSplits, make_loader
from cnnlab.data.loader import Loader
from cnnlab.data.transforms import Augment, Samples, training_images
from cnnlab.tasks.classification_eval import evaluate_run
from cnnlab.train.config import TrainConfig
from cnnlab.train.losses import classification_loss
from cnnlab.train.task import Batch


class Classification:
    """Image classification (see the module docstring)."""

    name = "classification"
    monitors = ("val_acc", "val_loss")

    def __init__(self, config: TrainConfig, data: DataSplits):
        self.seed = config.seed
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.augment = Augment(config.augment)
        if self.augment.lighting_std is not None:
            self.augment.fit(training_images(data.train))

    def build_model(
        self, config: TrainConfig, data: DataSplits, mean: torch.Tensor, std: torch.Tensor
    ) -> nn.Module:
        return runs.build_classifier(
            config.model, config.model_kwargs, data.classes, data.input_shape, mean, std
        )

    def batches(self, loader: Loader, generator: torch.Generator, epoch: int) -> Iterator[Batch]:
        for images, labels, indices in loader.with_indices():
            if self.augment:
                images = self.augment(images, generator, Samples(indices, epoch, self.seed))
            yield Batch(images, labels, labels)

    def loss(self, output: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return classification_loss(output, batch.targets, self.criterion)

    def batch_metrics(self, prediction: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        return {"acc": (prediction.argmax(1) == batch.labels).sum()}

    @torch.inference_mode()
    def validate(self, model: nn.Module, dataset: Any, device: torch.device) -> dict[str, float]:
        """Mean cross-entropy (without smoothing) and accuracy of ``model`` on ``dataset``."""
        model.eval()
        loss_sum, correct, seen = 0.0, 0, 0
        for images, labels in make_loader(dataset, 512, shuffle=False, device=device):
            logits = model(images)
            loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
        return {"val_loss": loss_sum / max(seen, 1), "val_acc": correct / max(seen, 1)}

    def evaluate(self, run_dir: Path, split: str, device: str) -> dict[str, Any]:
        return evaluate_run(run_dir, split=split, device=device)
