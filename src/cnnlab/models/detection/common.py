"""What every detector shares: the `Detector` interface and the final NMS.

A detector's ``forward`` returns a dict of its raw outputs (the same in
training and evaluation), ``loss(output, targets)`` the dict of its loss
terms with their sum under ``"loss"``, and ``detect(output)`` one
`Detections` per image: boxes in pixels
(x1, y1, x2, y2), scores and class indices, after non-maximum suppression.
Keeping the losses next to the model is torchvision's detection design; the
task (`cnnlab.tasks.detection`) only calls these three methods.
"""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import nn
from torchvision.ops import batched_nms, clip_boxes_to_image, remove_small_boxes

from cnnlab.errors import ConfigError
from cnnlab.metrics.detection import Detections

Targets = list[tuple[torch.Tensor, torch.Tensor]]  # per image: boxes (K, 4) xyxy, classes (K,)


class Detector(nn.Module, abc.ABC):
    """Base class of the detectors (see the module docstring)."""

    num_classes: int

    @abc.abstractmethod
    def loss(self, output: dict[str, Any], targets: Targets) -> dict[str, torch.Tensor]:
        """The loss terms of ``output`` against ``targets``, their sum under ``"loss"``."""

    @abc.abstractmethod
    def detect(self, output: dict[str, Any], score_threshold: float = 0.05) -> list[Detections]:
        """One `Detections` per image of ``output``."""


def find_detector(model: nn.Module) -> Detector:
    """The `Detector` inside a run's model (behind its normalization)."""
    for module in model.modules():
        if isinstance(module, Detector):
            return module
    raise ConfigError(
        f"{type(model).__name__} is not a detector; detection needs a detection model "
        "(--model yolov1, retinanet or fasterrcnn)."
    )


@torch.no_grad()
def detect(
    model: nn.Module, images: torch.Tensor, score_threshold: float = 0.05
) -> list[Detections]:
    """Detections of ``model`` (a run's model, in eval mode) on images in [0, 1]."""
    return find_detector(model).detect(model(images), score_threshold)


def select_detections(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    image_size: tuple[int, int],
    *,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> Detections:
    """Candidates of one image → its detections: boxes clipped to the image, those below
    ``score_threshold`` or under a pixel wide dropped, non-maximum suppression per class
    (`torchvision.ops.batched_nms`), the ``max_detections`` best kept by score."""
    keep = scores > score_threshold
    boxes = clip_boxes_to_image(boxes[keep].float(), image_size)
    scores, labels = scores[keep].float(), labels[keep]
    keep = remove_small_boxes(boxes, 1.0)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = batched_nms(boxes, scores, labels, iou_threshold)[:max_detections]
    return Detections(boxes[keep], scores[keep], labels[keep])


def paired_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """IoU of each box with the box at the same position, ``(..., 4)`` xyxy → ``(...)``;
    the diagonal of `torchvision.ops.box_iou` without the other pairs."""
    top_left = torch.maximum(boxes1[..., :2], boxes2[..., :2])
    bottom_right = torch.minimum(boxes1[..., 2:], boxes2[..., 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    area1 = (boxes1[..., 2:] - boxes1[..., :2]).prod(-1)
    area2 = (boxes2[..., 2:] - boxes2[..., :2]).prod(-1)
    return inter / (area1 + area2 - inter).clamp(min=torch.finfo(inter.dtype).eps)
