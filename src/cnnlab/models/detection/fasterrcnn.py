"""Faster R-CNN: a region proposal network, then RoIAlign and a Fast R-CNN head.

Ren, He, Girshick & Sun (2015), "Faster R-CNN: Towards Real-Time Object
Detection with Region Proposal Networks", NeurIPS, trained jointly
(approximate joint training, Sec. 3.2).

* Stage one, the RPN (Sec. 3.1): a 3x3 convolution on the feature map, then
  per position and anchor an objectness logit and a box coding.  Anchors are
  positive at IoU > 0.7 (and each object's best anchor), negative below 0.3;
  256 of them per image, at most half positive, give the binary cross-entropy
  and the smooth L1 loss of the box codings.  Proposals: the decoded boxes of
  the 600 best anchors, clipped, NMS at 0.7, the 100 best kept.
* Stage two, Fast R-CNN (Girshick 2015, Sec. 2): each proposal's features are
  pooled to 7x7 by RoIAlign (He et al. 2017, "Mask R-CNN", Sec. 3,
  `torchvision.ops.roi_align`), two fully connected layers, then K + 1
  class scores (0 = background) and class-specific box codings (weights 10,
  10, 5, 5).  In training the ground-truth boxes join the proposals and 128
  regions per image are sampled, a quarter of them foreground (IoU >= 0.5);
  the loss is the cross-entropy of the classes plus the smooth L1 loss of the
  foreground regions' codings (Eq. 1).  At test time every class's box of
  every proposal is scored by its softmax probability, then NMS per class.

cnnlab's configuration for small images: the RPN and RoI head work on the
finest level (stride 8) of the feature pyramid of
`fpn` (the paper: VGG's conv5, stride 16), with
anchors of sizes 16, 24, 32 and 48 pixels by the ratios 1:2, 1:1, 2:1.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_iou, clip_boxes_to_image, nms, roi_align

from cnnlab.metrics.detection import Detections
from cnnlab.models.detection.anchors import NEGATIVE, BoxCoder, grid_anchors, match_anchors
from cnnlab.models.detection.common import Detector, Targets, select_detections
from cnnlab.models.detection.fpn import DEFAULT_BACKBONE, FeaturePyramid
from cnnlab.models.registry import register_model

ANCHOR_SIZES = (16.0, 24.0, 32.0, 48.0)
RATIOS = (0.5, 1.0, 2.0)
RPN_SAMPLES, RPN_POSITIVE_SHARE = 256, 0.5
PRE_NMS, POST_NMS, RPN_NMS = 600, 100, 0.7
ROI_SAMPLES, ROI_POSITIVE_SHARE = 128, 0.25
POOLED = 7


def sample_balanced(positive: torch.Tensor, negative: torch.Tensor, count: int, share: float):
    """Up to ``count`` indices, at most ``share`` of them positive, drawn at random
    (Faster R-CNN's mini-batch of anchors, Fast R-CNN's of regions)."""
    pos = positive.nonzero()[:, 0]
    pos = pos[torch.randperm(len(pos), device=pos.device)[: int(count * share)]]
    neg = negative.nonzero()[:, 0]
    neg = neg[torch.randperm(len(neg), device=neg.device)[: count - len(pos)]]
    return pos, neg


class FasterRCNN(Detector):
    """Faster R-CNN (see the module docstring)."""

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        input_size: int = 96,
        backbone: str = DEFAULT_BACKBONE,
        backbone_options: dict[str, Any] | None = None,
        width: int = 64,
        hidden: int = 256,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.pyramid = FeaturePyramid(backbone, in_chans, input_size, 3, width, backbone_options)
        self.stride = self.pyramid.strides[0]
        self.num_anchors = len(ANCHOR_SIZES) * len(RATIOS)
        self.rpn_conv = nn.Conv2d(width, width, 3, padding=1)
        self.rpn_objectness = nn.Conv2d(width, self.num_anchors, 1)
        self.rpn_box = nn.Conv2d(width, self.num_anchors * 4, 1)
        self.roi_head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(width * POOLED * POOLED, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
        )
        self.roi_cls = nn.Linear(hidden, num_classes + 1)
        self.roi_box = nn.Linear(hidden, num_classes * 4)
        self.rpn_coder = BoxCoder()
        self.roi_coder = BoxCoder((10.0, 10.0, 5.0, 5.0))

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        features = self.pyramid(x)[0]
        n, _, h, w = features.shape
        hidden = F.relu(self.rpn_conv(features))
        return {
            "features": features,
            "objectness": self.rpn_objectness(hidden).permute(0, 2, 3, 1).reshape(n, -1),
            "rpn_box": self.rpn_box(hidden).permute(0, 2, 3, 1).reshape(n, -1, 4),
            "anchors": grid_anchors((h, w), self.stride, ANCHOR_SIZES, RATIOS, x.device),
            "image_size": tuple(x.shape[-2:]),
        }

    @torch.no_grad()
    def proposals(self, output: dict[str, Any]) -> list[torch.Tensor]:
        """Each image's region proposals (the RPN's best boxes after NMS), xyxy."""
        out = []
        for objectness, deltas in zip(output["objectness"], output["rpn_box"], strict=True):
            best = objectness.float().topk(min(PRE_NMS, len(objectness))).indices
            boxes = self.rpn_coder.decode(deltas[best].float(), output["anchors"][best])
            boxes = clip_boxes_to_image(boxes, output["image_size"])
            keep = nms(boxes, objectness[best].float(), RPN_NMS)[:POST_NMS]
            out.append(boxes[keep])
        return out

    def _second_stage(self, features: torch.Tensor, regions: list[torch.Tensor]):
        pooled = roi_align(
            features, regions, POOLED, spatial_scale=1 / self.stride, sampling_ratio=2, aligned=True
        )
        hidden = self.roi_head(pooled)
        return self.roi_cls(hidden), self.roi_box(hidden).view(-1, self.num_classes, 4)

    def loss(self, output: dict[str, Any], targets: Targets) -> dict[str, torch.Tensor]:
        """RPN (objectness, box) and Fast R-CNN (class, box) losses, Eq. 1 of each paper."""
        anchors = output["anchors"]
        rpn_cls, rpn_box = [], []
        regions, region_labels, region_targets = [], [], []
        for i, (region, (boxes, labels)) in enumerate(
            zip(self.proposals(output), targets, strict=True)
        ):
            boxes, labels = boxes.to(anchors.device), labels.to(anchors.device)
            matches = match_anchors(anchors, boxes, 0.7, 0.3)
            pos, neg = sample_balanced(
                matches >= 0, matches == NEGATIVE, RPN_SAMPLES, RPN_POSITIVE_SHARE
            )
            chosen = torch.cat([pos, neg])
            wanted = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).to(anchors.device)
            rpn_cls.append(
                F.binary_cross_entropy_with_logits(
                    output["objectness"][i, chosen].float(), wanted, reduction="sum"
                )
                / max(len(chosen), 1)
            )
            coded = self.rpn_coder.encode(boxes[matches[pos]], anchors[pos])
            rpn_box.append(
                F.smooth_l1_loss(
                    output["rpn_box"][i, pos].float(), coded, beta=1 / 9, reduction="sum"
                )
                / max(len(chosen), 1)
            )
            region = torch.cat([region, boxes])
            if len(boxes):
                best_iou, best_box = box_iou(boxes, region).max(0)
            else:
                best_iou = best_box = torch.zeros(len(region), device=region.device)
            fg, bg = sample_balanced(
                best_iou >= 0.5, best_iou < 0.5, ROI_SAMPLES, ROI_POSITIVE_SHARE
            )
            regions.append(torch.cat([region[fg], region[bg]]))
            region_labels.append(torch.cat([labels[best_box[fg].long()] + 1, torch.zeros_like(bg)]))
            region_targets.append(
                self.roi_coder.encode(boxes[best_box[fg].long()], region[fg])
                if len(fg)
                else region.new_zeros(0, 4)
            )
        class_logits, deltas = self._second_stage(output["features"], regions)
        labels = torch.cat(region_labels)
        foreground = (labels > 0).nonzero()[:, 0]
        box_loss = F.smooth_l1_loss(
            deltas[foreground, labels[foreground] - 1].float(),
            torch.cat(region_targets),
            beta=1 / 9,
            reduction="sum",
        ) / max(len(labels), 1)
        terms = {
            "rpn_cls": torch.stack(rpn_cls).mean(),
            "rpn_box": torch.stack(rpn_box).mean(),
            "roi_cls": F.cross_entropy(class_logits.float(), labels),
            "roi_box": box_loss,
        }
        terms["loss"] = sum(terms.values())
        return terms

    @torch.no_grad()
    def detect(self, output: dict[str, Any], score_threshold: float = 0.05) -> list[Detections]:
        """Every class's box of every proposal, scored by its probability, NMS per class."""
        regions = self.proposals(output)
        class_logits, deltas = self._second_stage(output["features"], regions)
        probs = class_logits.float().softmax(-1)[:, 1:]
        out, start = [], 0
        for region in regions:
            count = len(region)
            boxes = self.roi_coder.decode(deltas[start : start + count].float(), region[:, None])
            labels = torch.arange(self.num_classes, device=region.device).expand(count, -1)
            out.append(
                select_detections(
                    boxes.reshape(-1, 4),
                    probs[start : start + count].reshape(-1),
                    labels.reshape(-1),
                    output["image_size"],
                    score_threshold=score_threshold,
                )
            )
            start += count
        return out


@register_model
def fasterrcnn(
    num_classes: int = 80, in_chans: int = 3, input_size: int = 96, **options
) -> FasterRCNN:
    """Faster R-CNN (Ren et al. 2015): region proposal network + RoIAlign Fast R-CNN head.

    Options: ``backbone`` (a zoo model, default a quarter-width resnet18),
    ``backbone_options``, ``width`` (64, the pyramid's channels), ``hidden`` (256).
    """
    return FasterRCNN(num_classes, in_chans, input_size, **options)
