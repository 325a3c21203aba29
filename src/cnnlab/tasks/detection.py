"""Object detection: boxes and classes of every object, the detector's own loss, mAP.

A `Task` for data sets whose labels are boxes
(``det-canvas``, ``yolo``, ``coco``; `DetectionDataset`):
a detector from the zoo (``yolov1``, ``retinanet``, ``fasterrcnn``; see
`cnnlab.models.detection`) behind its input normalization.  A batch's
targets are the padded box rows; the loss is the detector's (YOLO's Eq. 3,
focal loss, RPN + Fast R-CNN losses), its terms the training metrics; on
validation the mean loss per image, mAP@0.5 (``val_map50``, the default
monitor) and COCO's mAP@[.5:.95] (``val_map``) by `cnnlab.metrics.detection`.
The final evaluation is `cnnlab.tasks.detection_eval.evaluate_detection`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab import runs
from cnnlab.data import DataSplits, make_loader
from cnnlab.data.detection import DetectionDataset, unpad_targets
from cnnlab.data.loader import Loader
from cnnlab.errors import ConfigError
from cnnlab.metrics.detection import detection_report
from cnnlab.models.detection import Detector, find_detector
from cnnlab.tasks.detection_eval import evaluate_detection
from cnnlab.train.config import TrainConfig
from cnnlab.train.task import Batch

UNSUPPORTED = {
    "augment": "augmentation (it would have to move the boxes with the images)",
    "mixup": "Mixup",
    "cutmix": "CutMix",
    "teacher": "distillation",
}


class Detection:
    """Object detection (see the module docstring)."""

    name = "detection"
    monitors = ("val_map50", "val_map", "val_loss")

    def __init__(self, config: TrainConfig, data: DataSplits):
        if not isinstance(data.train, DetectionDataset):
            raise ConfigError(
                f"detection needs boxes for every image, but {data.name} has no boxes; use a "
                "detection data set (--dataset det-canvas, or yolo / coco with --data-dir)."
            )
        used = [what for key, what in UNSUPPORTED.items() if getattr(config, key)]
        if config.adv_train != "none":
            used.append("adversarial training")
        if used:
            raise ConfigError(f"detection does not support {', '.join(used)} yet; drop the option.")
        self.classes = data.classes
        self.detector: Detector | None = None
        self.term_names: list[str] = []

    def build_model(
        self, config: TrainConfig, data: DataSplits, mean: torch.Tensor, std: torch.Tensor
    ) -> nn.Module:
        model = runs.build_classifier(
            config.model, config.model_kwargs, data.classes, data.input_shape, mean, std
        )
        self.detector = find_detector(model)
        return model

    def batches(self, loader: Loader, generator: torch.Generator, epoch: int) -> Iterator[Batch]:
        for images, targets in loader:
            yield Batch(images, targets, targets)

    def loss(self, output: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The detector's loss; the prediction is the vector of its terms (for the metrics)."""
        terms = self.detector.loss(output, unpad_targets(batch.targets))
        self.term_names = [name for name in terms if name != "loss"]
        return terms["loss"], torch.stack([terms[name].detach() for name in self.term_names])

    def batch_metrics(self, prediction: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Each loss term, summed over the batch's images (the Trainer divides by their count)."""
        terms = zip(self.term_names, prediction, strict=True)
        return {name: value * len(batch) for name, value in terms}

    @torch.inference_mode()
    def validate(self, model: nn.Module, dataset: Any, device: torch.device) -> dict[str, float]:
        """Mean loss per image, mAP@0.5 and mAP@[.5:.95] on ``dataset``."""
        model.eval()
        detector = find_detector(model)
        loss_sum, predictions, truths = 0.0, [], []
        for images, targets in make_loader(dataset, 64, shuffle=False, device=device):
            output = model(images)
            truth = unpad_targets(targets)
            loss_sum += detector.loss(output, truth)["loss"].item() * len(images)
            predictions += [d.to("cpu") for d in detector.detect(output)]
            truths += [(boxes.cpu(), classes.cpu()) for boxes, classes in truth]
        report = detection_report(predictions, truths, self.classes)
        return {
            "val_loss": loss_sum / max(len(truths), 1),
            "val_map50": report["map50"],
            "val_map": report["map"],
        }

    def evaluate(self, run_dir: Path, split: str, device: str) -> dict[str, Any]:
        return evaluate_detection(run_dir, split=split, device=device)
