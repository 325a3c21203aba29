"""Detection metrics: average precision per class, mAP@0.5 and COCO's mAP@[.5:.95].

The protocol is COCO's bounding-box evaluation (Lin et al. 2014, "Microsoft
COCO: Common Objects in Context", Sec. 5; ``pycocotools.cocoeval``), which the
tests check this module against to 1e-4:

* per image and class, the ``max_detections`` highest-scoring detections are
  matched greedily in score order, each to the unmatched ground-truth box it
  overlaps most with IoU >= t (IoU by `torchvision.ops.box_iou`);
* over all images, detections sorted by score give a precision/recall curve;
  precision is made monotone (each point takes the highest precision at a
  higher recall) and read at the 101 recall levels 0, 0.01, ..., 1 (0 beyond
  the curve's last recall); AP is their mean;
* ``map50`` is the mean AP over the classes with ground truth at t = 0.5
  (PASCAL VOC's threshold, Everingham et al. 2010), ``map`` the mean over those
  classes and the ten thresholds t = 0.5, 0.55, ..., 0.95.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import box_iou

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_LEVELS = np.linspace(0.0, 1.0, 101)


@dataclass
class Detections:
    """One image's detections: ``boxes`` ``(K, 4)`` xyxy, ``scores`` and ``labels`` ``(K,)``."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor

    def to(self, device: str | torch.device) -> Detections:
        return Detections(self.boxes.to(device), self.scores.to(device), self.labels.to(device))


def _match(ious: np.ndarray, threshold: float) -> np.ndarray:
    """Which detections (rows, in score order) match a ground truth (columns) at ``threshold``.

    COCO's greedy rule: each detection takes the unmatched box it overlaps most,
    when that overlap reaches the threshold.
    """
    matched = np.zeros(ious.shape[0], dtype=bool)
    free = np.ones(ious.shape[1], dtype=bool)
    for d in range(ious.shape[0]):
        candidates = np.where(free, ious[d], -1.0)
        best = int(candidates.argmax()) if candidates.size else -1
        if best >= 0 and candidates[best] >= min(threshold, 1 - 1e-10):
            matched[d], free[best] = True, False
    return matched


def precision_recall(scores: np.ndarray, matched: np.ndarray, num_truth: int):
    """``(precision, recall)`` along detections sorted by score (precision not yet monotone)."""
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(matched[order])
    fp = np.cumsum(~matched[order])
    return tp / np.maximum(tp + fp, np.spacing(1)), tp / num_truth


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """AP at the 101 recall levels of COCO, precision made monotone from the right."""
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    positions = np.searchsorted(recall, RECALL_LEVELS, side="left")
    sampled = np.zeros(len(RECALL_LEVELS))
    inside = positions < len(envelope)
    sampled[inside] = envelope[positions[inside]]
    return float(sampled.mean())


def average_precision(
    predictions: Sequence[Detections],
    targets: Sequence[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    *,
    iou_thresholds: Sequence[float] = tuple(IOU_THRESHOLDS),
    max_detections: int = 100,
) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    """AP ``(num_classes, len(iou_thresholds))`` (NaN for a class without ground truth) and,
    per class, the precision/recall curve at the first threshold.

    ``predictions`` and ``targets`` (``(boxes, classes)``) hold one entry per image.
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} images")
    scores: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
    matched = [[[] for _ in iou_thresholds] for _ in range(num_classes)]
    num_truth = np.zeros(num_classes, dtype=np.int64)
    for det, (true_boxes, true_classes) in zip(predictions, targets, strict=True):
        for c in range(num_classes):
            truth = true_boxes[true_classes == c].float()
            num_truth[c] += len(truth)
            mine = det.labels == c
            if not mine.any():
                continue
            class_scores = det.scores[mine].float().cpu().numpy()
            order = np.argsort(-class_scores, kind="mergesort")[:max_detections]
            boxes = det.boxes[mine].float().cpu()[torch.from_numpy(order)]
            ious = box_iou(boxes, truth.cpu()).numpy()
            scores[c].append(class_scores[order])
            for t, threshold in enumerate(iou_thresholds):
                matched[c][t].append(_match(ious, threshold))
    ap = np.full((num_classes, len(iou_thresholds)), np.nan)
    curves = []
    for c in range(num_classes):
        class_scores = np.concatenate(scores[c]) if scores[c] else np.zeros(0)
        curve = {"precision": np.zeros(0), "recall": np.zeros(0)}
        if num_truth[c]:
            for t in range(len(iou_thresholds)):
                hits = np.concatenate(matched[c][t]) if matched[c][t] else np.zeros(0, bool)
                precision, recall = precision_recall(class_scores, hits, num_truth[c])
                ap[c, t] = interpolated_ap(precision, recall)
                if t == 0:
                    curve = {"precision": precision, "recall": recall}
        curves.append(curve)
    return ap, curves


def detection_report(
    predictions: Sequence[Detections],
    targets: Sequence[tuple[torch.Tensor, torch.Tensor]],
    classes: Sequence[str],
) -> dict:
    """``map50``, ``map``, ``map75`` and the AP of each class (JSON-ready), plus PR curves.

    Classes without ground truth are left out of the means (their AP is None).
    """
    ap, curves = average_precision(predictions, targets, len(classes))
    measured = ~np.isnan(ap[:, 0])
    per_class = [
        {
            "class": name,
            "ap50": None if np.isnan(ap[c, 0]) else float(ap[c, 0]),
            "ap": None if np.isnan(ap[c, 0]) else float(ap[c].mean()),
            "support": int(sum(int((t[1] == c).sum()) for t in targets)),
        }
        for c, name in enumerate(classes)
    ]
    return {
        "map50": _mean(ap[measured, 0]),
        "map75": _mean(ap[measured, 5]),
        "map": _mean(ap[measured]),
        "per_class": per_class,
        "pr_curves": [
            {"class": name, "precision": curve["precision"], "recall": curve["recall"]}
            for name, curve in zip(classes, curves, strict=True)
        ],
    }


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0
