"""RetinaNet: a one-stage anchor detector trained with the focal loss.

Lin, Goyal, Girshick, He & Dollár (2017), "Focal Loss for Dense Object
Detection", ICCV.  A feature pyramid (`fpn`) on
a zoo backbone; at every position of every level, A anchors (3 sizes
``2^0, 2^(1/3), 2^(2/3)`` times the level's base size, by 3 aspect ratios
1:2, 1:1, 2:1; Sec. 4).  Two small fully convolutional subnets shared by all
levels: classification (``depth`` 3x3 convolutions with ReLU, then K·A
sigmoid outputs; the last bias is ``-log((1 - π) / π)`` with π = 0.01, so that
every anchor starts as background, Sec. 4.1 "Initialization") and box
regression (the same shape, 4·A outputs, the R-CNN coding of
`anchors`).

Loss (Sec. 3, Sec. 4.1): anchors are positive at IoU >= 0.5 with an object,
negative below 0.4, ignored in between; the focal loss
``FL(p_t) = -α_t (1 - p_t)^γ log(p_t)`` with γ = 2, α = 0.25
(`torchvision.ops.sigmoid_focal_loss`) summed over all non-ignored
anchors and classes, plus the L1 loss of the box targets of the positive
anchors (torchvision's choice; the paper uses smooth L1), both divided by the
number of positive anchors.  Inference (Sec. 4): per level the 1000
highest-scoring boxes above 0.05, decoded; NMS at 0.5 over all of them.

cnnlab's configuration for small images: the pyramid has 3 levels (P6/P7 left
out), the subnets ``depth`` 2 (the paper: 4) and ``width`` 64 (the paper:
256), and the base anchor size is ``anchor_scale`` (2) times the stride (the
paper: 4, for objects of 32-512 pixels in 800-pixel images).  On the glyphs of
``det-canvas`` (11-40 pixels on 96x96) these anchors give 97 % of the boxes an
anchor of IoU >= 0.5 (`anchors.anchor_coverage`;
the paper's scale: 55 %), about 7 positive anchors per object, 84 % of them on
P3 (stride 8) and none on P5, whose anchors (64-101 pixels) are for objects
that fill the image.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from cnnlab.metrics.detection import Detections
from cnnlab.models.detection.anchors import IGNORED, BoxCoder, grid_anchors, match_anchors
from cnnlab.models.detection.common import Detector, Targets, select_detections
from cnnlab.models.detection.fpn import DEFAULT_BACKBONE, FeaturePyramid
from cnnlab.models.registry import register_model

SCALES = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
RATIOS = (0.5, 1.0, 2.0)
PRIOR = 0.01
PRE_NMS_PER_LEVEL = 1000


def _subnet(width: int, depth: int, outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(width, outputs, 3, padding=1))
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class RetinaNet(Detector):
    """RetinaNet (see the module docstring)."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        input_size: int = 96,
        backbone: str = DEFAULT_BACKBONE,
        backbone_options: dict[str, Any] | None = None,
        width: int = 64,
        depth: int = 2,
        anchor_scale: float = 2.0,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.pyramid = FeaturePyramid(backbone, in_chans, input_size, 3, width, backbone_options)
        self.sizes = [[anchor_scale * s * k for k in SCALES] for s in self.pyramid.strides]
        self.num_anchors = len(SCALES) * len(RATIOS)
        self.cls_subnet = _subnet(width, depth, self.num_anchors * num_classes)
        self.box_subnet = _subnet(width, depth, self.num_anchors * 4)
        nn.init.constant_(self.cls_subnet[-1].bias, -math.log((1 - PRIOR) / PRIOR))
        self.coder = BoxCoder()

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        levels = self.pyramid(x)
        cls, box, anchors = [], [], []
        for p, stride, sizes in zip(levels, self.pyramid.strides, self.sizes, strict=True):
            n, _, h, w = p.shape
            # (N, A*k, H, W) -> (N, H*W*A, k): the anchor order of grid_anchors
            cls.append(self.cls_subnet(p).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes))
            box.append(self.box_subnet(p).permute(0, 2, 3, 1).reshape(n, -1, 4))
            anchors.append(grid_anchors((h, w), stride, sizes, RATIOS, p.device))
        return {
            "cls": torch.cat(cls, 1),
            "box": torch.cat(box, 1),
            "anchors": torch.cat(anchors),
            "level_sizes": [len(a) for a in anchors],
            "image_size": tuple(x.shape[-2:]),
        }

    def loss(self, output: dict[str, Any], targets: Targets) -> dict[str, torch.Tensor]:
        """Focal loss of the classes and L1 loss of the boxes, per positive anchor."""
        cls_out, box_out, anchors = output["cls"].float(), output["box"].float(), output["anchors"]
        cls_sum = cls_out.new_zeros(())
        box_sum = cls_out.new_zeros(())
        positives = 0
        for i, (boxes, labels) in enumerate(targets):
            boxes, labels = boxes.to(anchors.device), labels.to(anchors.device)
            matches = match_anchors(anchors, boxes, 0.5, 0.4)
            positive = matches >= 0
            valid = matches != IGNORED
            onehot = torch.zeros_like(cls_out[i])
            onehot[positive.nonzero()[:, 0], labels[matches[positive]]] = 1.0
            cls_sum = cls_sum + sigmoid_focal_loss(
                cls_out[i][valid], onehot[valid], alpha=0.25, gamma=2.0, reduction="sum"
            )
            if positive.any():
                wanted = self.coder.encode(boxes[matches[positive]], anchors[positive])
                box_sum = box_sum + F.l1_loss(box_out[i][positive], wanted, reduction="sum")
            positives += int(positive.sum())
        scale = max(positives, 1)
        terms = {"cls": cls_sum / scale, "box": box_sum / scale}
        terms["loss"] = terms["cls"] + terms["box"]
        return terms

    @torch.no_grad()
    def detect(self, output: dict[str, Any], score_threshold: float = 0.05) -> list[Detections]:
        """Per level the best 1000 scores above the threshold, decoded, then NMS (0.5)."""
        scores_all = output["cls"].float().sigmoid()
        out = []
        for i in range(len(scores_all)):
            boxes, scores, labels = [], [], []
            start = 0
            for size in output["level_sizes"]:
                level = scores_all[i, start : start + size].flatten()
                keep = (level > score_threshold).nonzero()[:, 0]
                keep = keep[level[keep].topk(min(PRE_NMS_PER_LEVEL, len(keep))).indices]
                anchor = start + keep // self.num_classes
                boxes.append(
                    self.coder.decode(output["box"][i, anchor].float(), output["anchors"][anchor])
                )
                scores.append(level[keep])
                labels.append(keep % self.num_classes)
                start += size
            out.append(
                select_detections(
                    torch.cat(boxes),
                    torch.cat(scores),
                    torch.cat(labels),
                    output["image_size"],
                    score_threshold=score_threshold,
                )
            )
        return out


@register_model
def retinanet(
    num_classes: int = 80, in_chans: int = 3, input_size: int = 96, **options
) -> RetinaNet:
    """RetinaNet (Lin et al. 2017): focal loss, feature pyramid on a zoo backbone.

    Options: ``backbone`` (a zoo model, default a quarter-width resnet18),
    ``backbone_options``, ``width`` (64), ``depth`` (2), ``anchor_scale`` (2).
    """
    return RetinaNet(num_classes, in_chans, input_size, **options)
