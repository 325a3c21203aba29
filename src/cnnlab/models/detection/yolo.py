"""YOLOv1: one network from the image to an S x S grid of boxes and class probabilities.

Redmon, Divvala, Girshick & Farhadi (2016), "You Only Look Once: Unified,
Real-Time Object Detection", CVPR.  The image is divided into an S x S grid
(Sec. 2); the cell holding an object's centre is responsible for it.  Each
cell predicts B boxes ``(x, y, w, h)`` with a confidence each and C class
probabilities ``Pr(class | object)`` shared by its boxes: an
``S x S x (5B + C)`` tensor from a convolutional backbone and two fully
connected layers (Sec. 2.1, Fig. 3), with a linear last layer and leaky
ReLU (slope 0.1) elsewhere (Sec. 2.2).  ``x, y`` are the centre's offset in its
cell, ``w, h`` fractions of the image; the network predicts ``sqrt(w)`` and
``sqrt(h)`` (the loss compares square roots, "small deviations in large boxes
matter less than in small boxes").

The loss is the paper's Eq. 3, a sum of squared errors over the cells ``i``
and predictors ``j`` of each image, averaged over the batch:

    λ_coord Σ 1obj_ij [(x_i - x̂_i)² + (y_i - ŷ_i)²]
  + λ_coord Σ 1obj_ij [(√w_i - √ŵ_i)² + (√h_i - √ĥ_i)²]
  +         Σ 1obj_ij (C_i - Ĉ_i)²
  + λ_noobj Σ 1noobj_ij (C_i - Ĉ_i)²
  +         Σ 1obj_i Σ_c (p_i(c) - p̂_i(c))²

with λ_coord = 5 and λ_noobj = 0.5.  ``1obj_ij`` marks the "responsible"
predictor: of the B boxes of the cell holding an object's centre, the one
whose current prediction has the highest IoU with it; every other predictor
is ``1noobj``.  The target confidence of a responsible predictor is that IoU
(Sec. 2: confidence = Pr(object) · IoU); a cell holds one object (the
largest, when centres share a cell).  At test time a box's score for class c
is ``Pr(c | object) · confidence`` (Sec. 2, Eq. 1), followed by NMS.

cnnlab's configuration: the backbone is a small Darknet-style stack (Fast
YOLO's design of 3x3 convolutions and 2x2 max pools, Sec. 2.1, narrower for
small images) with batch normalization (added by YOLOv2, Redmon & Farhadi
2017, Sec. 2), pooled to S x S, then the paper's two fully connected layers
with dropout 0.5 between them (Sec. 2.2).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.ops import box_convert

from cnnlab.metrics.detection import Detections
from cnnlab.models.darknet import conv_bn_act
from cnnlab.models.detection.common import Detector, Targets, paired_iou, select_detections
from cnnlab.models.registry import register_model

LAMBDA_COORD = 5.0
LAMBDA_NOOBJ = 0.5
BACKBONE = (16, "M", 32, "M", 64, "M", 128, "M", 256)  # 3x3 conv widths, 2x2 max pools


class YOLOv1(Detector):
    """YOLOv1 (see the module docstring): ``grid`` S, ``boxes`` B per cell."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        grid: int = 6,
        boxes: int = 2,
        hidden: int = 512,
        backbone: tuple = BACKBONE,
    ):
        super().__init__()
        self.num_classes, self.grid, self.boxes = num_classes, grid, boxes
        layers: list[nn.Module] = []
        channels = in_chans
        for item in backbone:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(conv_bn_act(channels, item, 3, 1, "leaky_relu"))
                channels = item
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(grid))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * grid * grid, hidden),
            nn.LeakyReLU(0.1),
            nn.Dropout(0.5),
            nn.Linear(hidden, grid * grid * (5 * boxes + num_classes)),
        )

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        out = self.head(self.features(x))
        grid = out.view(len(x), self.grid, self.grid, 5 * self.boxes + self.num_classes)
        return {"grid": grid, "image_size": tuple(x.shape[-2:])}

    def _predicted_boxes(self, grid: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """The B boxes of every cell in pixels xyxy, ``(N, S, S, B, 4)``."""
        height, width = image_size
        s = self.grid
        pred = grid[..., : 5 * self.boxes].reshape(*grid.shape[:3], self.boxes, 5)
        rows = torch.arange(s, device=grid.device).view(1, s, 1, 1)
        cols = torch.arange(s, device=grid.device).view(1, 1, s, 1)
        cx = (cols + pred[..., 0]) / s * width
        cy = (rows + pred[..., 1]) / s * height
        w, h = pred[..., 2].square() * width, pred[..., 3].square() * height
        return box_convert(torch.stack([cx, cy, w, h], -1), "cxcywh", "xyxy")

    def encode(self, targets: Targets, image_size: tuple[int, int], device) -> dict:
        """Per cell: has an object, its ``(x, y, √w, √h)``, class and box in pixels."""
        height, width = image_size
        n, s = len(targets), self.grid
        has = torch.zeros(n, s, s, dtype=torch.bool, device=device)
        coords = torch.zeros(n, s, s, 4, device=device)
        classes = torch.zeros(n, s, s, dtype=torch.int64, device=device)
        pixels = torch.zeros(n, s, s, 4, device=device)
        for i, (boxes, labels) in enumerate(targets):
            order = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).argsort()
            for box, label in zip(boxes[order].tolist(), labels[order].tolist(), strict=True):
                cx, cy = (box[0] + box[2]) / 2 / width * s, (box[1] + box[3]) / 2 / height * s
                col, row = min(int(cx), s - 1), min(int(cy), s - 1)
                w, h = (box[2] - box[0]) / width, (box[3] - box[1]) / height
                has[i, row, col] = True  # larger boxes come later and take the cell
                coords[i, row, col] = torch.tensor([cx - col, cy - row, w**0.5, h**0.5])
                classes[i, row, col] = label
                pixels[i, row, col] = torch.tensor(box)
        return {"has": has, "coords": coords, "classes": classes, "pixels": pixels}

    def loss(self, output: dict[str, Any], targets: Targets) -> dict[str, torch.Tensor]:
        """Eq. 3 of the paper, term by term (see the module docstring)."""
        grid = output["grid"].float()
        n, b = len(grid), self.boxes
        target = self.encode(targets, output["image_size"], grid.device)
        pred = grid[..., : 5 * b].reshape(*grid.shape[:3], b, 5)
        with torch.no_grad():
            boxes = self._predicted_boxes(grid, output["image_size"])
            cell_ious = paired_iou(boxes, target["pixels"].unsqueeze(3))  # (N, S, S, B)
        responsible = nn.functional.one_hot(cell_ious.argmax(-1), b).bool()
        responsible &= target["has"].unsqueeze(-1)
        obj = responsible.float()
        coords = target["coords"].unsqueeze(3)
        xy = ((pred[..., :2] - coords[..., :2]).square().sum(-1) * obj).sum()
        wh = ((pred[..., 2:4] - coords[..., 2:4]).square().sum(-1) * obj).sum()
        confidence = pred[..., 4]
        object_conf = ((confidence - cell_ious).square() * obj).sum()
        noobj_conf = (confidence.square() * (1 - obj)).sum()
        onehot = nn.functional.one_hot(target["classes"], self.num_classes).float()
        cls = ((grid[..., 5 * b :] - onehot).square().sum(-1) * target["has"].float()).sum()
        terms = {
            "coord_xy": LAMBDA_COORD * xy / n,
            "coord_wh": LAMBDA_COORD * wh / n,
            "obj": object_conf / n,
            "noobj": LAMBDA_NOOBJ * noobj_conf / n,
            "cls": cls / n,
        }
        terms["loss"] = sum(terms.values())
        return terms

    @torch.no_grad()
    def detect(self, output: dict[str, Any], score_threshold: float = 0.05) -> list[Detections]:
        """Class-specific confidence ``Pr(c | object) · C`` of every box (Eq. 1), then NMS."""
        grid = output["grid"].float()
        boxes = self._predicted_boxes(grid, output["image_size"])
        # The outputs are linear: clamped to the probabilities they estimate, so that two
        # negative outputs do not multiply into a positive score.
        confidence = grid[..., 4 : 5 * self.boxes : 5].clamp(0, 1)  # (N, S, S, B)
        probs = grid[..., 5 * self.boxes :].clamp(0, 1)  # (N, S, S, C)
        scores = confidence.unsqueeze(-1) * probs.unsqueeze(3)  # (N, S, S, B, C)
        labels = torch.arange(self.num_classes, device=grid.device).expand_as(scores)
        out = []
        for i in range(len(grid)):
            out.append(
                select_detections(
                    boxes[i].unsqueeze(-2).expand(*scores.shape[1:], 4).reshape(-1, 4),
                    scores[i].reshape(-1),
                    labels[i].reshape(-1),
                    output["image_size"],
                    score_threshold=score_threshold,
                )
            )
        return out


@register_model
def yolov1(num_classes: int = 20, in_chans: int = 3, **options) -> YOLOv1:
    """YOLOv1 detector (Redmon et al. 2016): S x S grid, B boxes per cell, Eq. 3 loss.

    Options: ``grid`` (S, default 6), ``boxes`` (B, default 2), ``hidden``
    (width of the first fully connected layer, default 512).
    """
    return YOLOv1(num_classes, in_chans, **options)
