"""Semantic segmentation: a class for every pixel, per-pixel cross-entropy, IoU.

A `Task` for data sets whose labels are masks
(``seg-canvas``, ``segfolder``): a fully convolutional network from the zoo
(``unet``, ``fcn8s``/``fcn16s``/``fcn32s``, ``segnet``, their small forms)
behind its input normalization, the cross-entropy of every
pixel averaged over the image (Long et al. 2015, Sec. 3), pixel accuracy as the
training metric, and on validation the pixel accuracy (``val_acc``) and the
mean intersection over union (``val_miou``, `cnnlab.metrics.segmentation`);
``--augment`` moves the masks with the images (`cnnlab.data.mask_augment`).
The final evaluation writes the split's segmentation report to metrics.json,
a table of IoU per class and a figure of images, true and predicted masks to
the report's "Segmentation" section.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab import runs
from cnnlab.data import DataSplits, make_loader
from cnnlab.data.loader import Loader
from cnnlab.data.mask_augment import MaskAugment
from cnnlab.errors import ConfigError
from cnnlab.metrics.segmentation import pixel_confusion_matrix, segmentation_report
from cnnlab.report import build_report
from cnnlab.report.figures import figure_to_png
from cnnlab.report.segmentation_figures import plot_segmentation
from cnnlab.train.config import TrainConfig
from cnnlab.train.task import Batch

UNSUPPORTED = {
    "mixup": "Mixup",
    "cutmix": "CutMix",
    "teacher": "distillation",
}


class Segmentation:
    """Semantic segmentation (see the module docstring)."""

    name = "segmentation"
    monitors = ("val_acc", "val_loss", "val_miou")

    def __init__(self, config: TrainConfig, data: DataSplits):
        if data.train.labels.ndim != 3:
            raise ConfigError(
                f"segmentation needs a mask per image, but {data.name} has a class per image; "
                "use a segmentation data set such as --dataset seg-canvas."
            )
        used = [what for key, what in UNSUPPORTED.items() if getattr(config, key)]
        if config.adv_train != "none":
            used.append("adversarial training")
        if used:
            raise ConfigError(
                f"segmentation does not support {', '.join(used)} yet; drop the option."
            )
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.num_classes = len(data.classes)
        self.augment = MaskAugment(config.augment)

    def build_model(
        self, config: TrainConfig, data: DataSplits, mean: torch.Tensor, std: torch.Tensor
    ) -> nn.Module:
        return runs.build_classifier(
            config.model, config.model_kwargs, data.classes, data.input_shape, mean, std
        )

    def batches(self, loader: Loader, generator: torch.Generator, epoch: int) -> Iterator[Batch]:
        for images, masks in loader:
            if self.augment:
                images, masks = self.augment(images, masks, generator)
            yield Batch(images, masks, masks)

    def loss(self, output: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        if output.shape[-2:] != batch.targets.shape[-2:]:
            raise ConfigError(
                f"the model predicts {tuple(output.shape[-2:])} maps for "
                f"{tuple(batch.targets.shape[-2:])} masks; segmentation needs a fully "
                "convolutional model that keeps the input size (unet_small, fcn8s, segnet_small)."
            )
        return self.criterion(output, batch.targets), output

    def batch_metrics(self, prediction: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Summed over images: each image's share of correctly classified pixels."""
        correct = (prediction.argmax(1) == batch.labels).float()
        return {"acc": correct.mean((1, 2)).sum()}

    @torch.inference_mode()
    def validate(self, model: nn.Module, dataset: Any, device: torch.device) -> dict[str, float]:
        """Mean per-image cross-entropy (no smoothing), pixel accuracy and mean IoU."""
        model.eval()
        loss_sum, seen = 0.0, 0
        confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        for images, masks in make_loader(dataset, 64, shuffle=False, device=device):
            logits = model(images)
            pixel_loss = nn.functional.cross_entropy(logits, masks, reduction="none")
            loss_sum += pixel_loss.mean((1, 2)).sum().item()
            confusion += pixel_confusion_matrix(masks, logits.argmax(1), self.num_classes).cpu()
            seen += len(images)
        report = segmentation_report(confusion, [str(i) for i in range(self.num_classes)])
        return {
            "val_loss": loss_sum / max(seen, 1),
            "val_acc": report["accuracy"],
            "val_miou": report["miou"],
        }

    def evaluate(self, run_dir: Path, split: str, device: str) -> dict[str, Any]:
        return evaluate_segmentation(run_dir, split=split, device=device)


@torch.inference_mode()
def predict_masks(
    model: nn.Module, dataset: Any, device: str | torch.device = "cpu", batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(images uint8, true masks, predicted masks)`` of ``model`` over ``dataset``."""
    model.eval()
    images, truth, predicted = [], [], []
    for x, masks in make_loader(dataset, batch_size, shuffle=False, device=device):
        predicted.append(model(x).argmax(1).cpu())
        images.append((x * 255).round().to(torch.uint8).cpu())
        truth.append(masks.cpu())
    return torch.cat(images), torch.cat(truth), torch.cat(predicted)


def evaluate_segmentation(
    run_dir: str | os.PathLike,
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate a segmentation run on ``split``: metrics.json, the report's section, report."""
    run = runs.load_run(run_dir)
    chosen = run.load_split(split, dataset=dataset, data_dir=data_dir)
    images, truth, predicted = predict_masks(run.model.to(device), chosen.images, device)
    truth = chosen.class_map[truth]
    confusion = pixel_confusion_matrix(truth, predicted, len(run.classes))
    report = segmentation_report(confusion, run.classes)
    report.update({"dataset": chosen.dataset, "split": split, "num_images": len(images)})
    own = chosen.dataset == run.dataset
    runs.update_metrics(run.path, (split if own else f"{chosen.dataset}/{split}",), report)
    _record_section(run.path, report, images, truth, predicted, run.classes)
    build_report(run.path)
    return report


def _record_section(run_dir, report, images, truth, predicted, classes) -> None:
    rows = [
        [row["class"], "" if row["iou"] is None else row["iou"], row["support"]]
        for row in report["per_class"]
    ]
    caption = f"{report['split']} split: mean IoU {report['miou']:.4f}"
    runs.add_table(run_dir, "Segmentation", "iou", ["class", "IoU", "pixels"], rows, caption)
    shown = slice(0, min(6, len(images)))
    per_image = [
        segmentation_report(pixel_confusion_matrix(t, p, len(classes)), classes)["miou"]
        for t, p in zip(truth[shown], predicted[shown], strict=True)
    ]
    fig = plot_segmentation(
        images[shown].float() / 255, truth[shown], predicted[shown], classes, per_image
    )
    runs.add_figure(
        run_dir,
        "Segmentation",
        "segmentation.png",
        figure_to_png(fig),
        "the first test images: image, true mask, prediction",
    )
