"""Segmentation metrics from the pixel confusion matrix: pixel accuracy and IoU.

Long et al. (2015), "Fully convolutional networks for semantic segmentation",
Sec. 5: with n_ij the number of pixels of class i predicted as class j and
t_i = Σ_j n_ij the pixels of class i,

    pixel accuracy = Σ_i n_ii / Σ_i t_i
    IoU_i          = n_ii / (t_i + Σ_j n_ji − n_ii)      (intersection over union)
    mean IoU       = (1 / n_cl) Σ_i IoU_i                  (over the classes present)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cnnlab.errors import ConfigError


def pixel_confusion_matrix(
    y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """``(num_classes, num_classes)`` counts of pixels, rows = true class, columns = predicted.

    Torch rather than `sklearn.metrics.confusion_matrix` (which the
    tests use as the oracle): it runs on every validation batch, on the
    model's device, and scikit-learn would copy every mask to the CPU first.
    """
    if y_true.shape != y_pred.shape:
        raise ConfigError(
            f"masks and predictions differ in shape: {tuple(y_true.shape)} vs "
            f"{tuple(y_pred.shape)}; give one predicted class per pixel."
        )
    true, pred = y_true.reshape(-1).long(), y_pred.reshape(-1).long()
    if len(true) and (true.min() < 0 or true.max() >= num_classes):
        raise ConfigError(
            f"mask values must be class indices in [0, {num_classes}), got {int(true.min())} "
            f"to {int(true.max())}; check the masks against the class list."
        )
    counts = torch.bincount(true * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def segmentation_report(
    confusion: torch.Tensor | np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Pixel accuracy, per-class precision/recall/F1/IoU and mean IoU of a pixel confusion matrix.

    The mean IoU averages the classes that occur in the masks or the predictions
    (a class absent from both has no defined IoU).  The keys follow
    `cnnlab.metrics.classification_report` where they mean the same
    (``accuracy`` is the pixel accuracy), so that reports render alike.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    if cm.shape != (len(class_names), len(class_names)):
        raise ConfigError(f"confusion matrix {cm.shape} does not fit {len(class_names)} classes.")
    true_pixels, predicted_pixels, hits = cm.sum(1), cm.sum(0), np.diag(cm)
    union = true_pixels + predicted_pixels - hits
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, hits / union, np.nan)
        precision = np.where(predicted_pixels > 0, hits / predicted_pixels, 0.0)
        recall = np.where(true_pixels > 0, hits / true_pixels, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    total = cm.sum()
    return {
        "num_pixels": int(total),
        "num_classes": len(class_names),
        "class_names": list(class_names),
        "accuracy": float(hits.sum() / total) if total else 0.0,
        "miou": float(np.nanmean(iou)) if np.any(union > 0) else 0.0,
        "per_class": [
            {
                "class": name,
                "iou": None if np.isnan(i) else float(i),
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(t),
            }
            for name, i, p, r, f, t in zip(
                class_names, iou, precision, recall, f1, true_pixels, strict=True
            )
        ],
        "confusion_matrix": cm.astype(np.int64).tolist(),
    }


def format_segmentation_report(report: dict[str, Any], digits: int = 3) -> str:
    """The report as text: pixel accuracy, mean IoU, and a row per class."""
    width = max(len("class"), *(len(row["class"]) for row in report["per_class"]))
    lines = [
        f"pixel accuracy {report['accuracy']:.{digits}f}   mean IoU {report['miou']:.{digits}f}"
        f"   ({report.get('num_images', '?')} images, {report['num_pixels']} pixels)",
        f"{'class':<{width}}  {'IoU':>6}  {'precision':>9}  {'recall':>6}  {'pixels':>9}",
    ]
    for row in report["per_class"]:
        iou = "-" if row["iou"] is None else f"{row['iou']:.{digits}f}"
        lines.append(
            f"{row['class']:<{width}}  {iou:>6}  {row['precision']:>9.{digits}f}  "
            f"{row['recall']:>6.{digits}f}  {row['support']:>9}"
        )
    return "\n".join(lines)
