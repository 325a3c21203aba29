"""Anchors, the box coding of R-CNN and the anchor-to-object matching rule.

* Anchors (Ren et al. 2015, "Faster R-CNN", Sec. 3.1.1): at every position of
  a feature map of stride s, one box per (size, aspect ratio), centred on the
  position's centre ``((j + 0.5) s, (i + 0.5) s)``; aspect ratio = h / w at
  constant area.
* Box coding (Girshick et al. 2014, "R-CNN", Appendix C; Faster R-CNN Eq. 2):
  ``t_x = (x - x_a) / w_a``, ``t_y = (y - y_a) / h_a``, ``t_w = log(w / w_a)``,
  ``t_h = log(h / h_a)``, each multiplied by a weight (Fast R-CNN's head uses
  10, 10, 5, 5 to bring the targets to unit scale).
* Matching (Faster R-CNN Sec. 3.1.2; RetinaNet, Lin et al. 2017, Sec. 4): an
  anchor is positive for the object it overlaps most when that IoU reaches
  ``positive``, negative below ``negative``, ignored in between; each object's
  best anchors are positive whatever their IoU ("the anchor with the highest
  IoU overlap with a ground-truth box"), so that no object goes unassigned.
* Coverage: the share of objects whose best anchor reaches an IoU of 0.5,
  i.e. that get a positive anchor by the threshold rather than only by the
  best-anchor rule. Anchors sized for other objects leave it low and the
  detector learns from few, poorly placed positives (the anchor design
  question of YOLOv2, Redmon & Farhadi 2017, Sec. 2 "Dimension Clusters",
  which measures the average best IoU of the priors).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torchvision.ops import box_iou

NEGATIVE, IGNORED = -1, -2  # match results other than an object index
MAX_LOG_SCALE = math.log(1000.0 / 16)  # torchvision's clamp of t_w, t_h before exp


def grid_anchors(
    feature_size: tuple[int, int],
    stride: int,
    sizes: Sequence[float],
    ratios: Sequence[float],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Anchors ``(H * W * A, 4)`` xyxy, position-major (the A anchors of a position together,
    in the order of ``sizes`` x ``ratios``), matching a head's ``(N, A*k, H, W)`` output
    permuted to ``(N, H, W, A, k)``."""
    shapes = []
    for size in sizes:
        for ratio in ratios:
            w = size / math.sqrt(ratio)
            shapes.append([-w / 2, -w * ratio / 2, w / 2, w * ratio / 2])
    base = torch.tensor(shapes, dtype=torch.float32, device=device)
    height, width = feature_size
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) * stride
    cy, cx = torch.meshgrid(ys, xs, indexing="ij")
    centres = torch.stack([cx, cy, cx, cy], -1).reshape(-1, 1, 4)
    return (centres + base).reshape(-1, 4)


class BoxCoder:
    """R-CNN's box coding with ``weights`` (see the module docstring)."""

    def __init__(self, weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)):
        self.weights = weights

    def encode(self, boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        """Targets ``(..., 4)`` that turn ``anchors`` into ``boxes`` (both xyxy)."""
        wx, wy, ww, wh = self.weights
        aw, ah = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
        ax, ay = anchors[..., 0] + aw / 2, anchors[..., 1] + ah / 2
        bw, bh = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
        bx, by = boxes[..., 0] + bw / 2, boxes[..., 1] + bh / 2
        return torch.stack(
            [
                wx * (bx - ax) / aw,
                wy * (by - ay) / ah,
                ww * torch.log(bw / aw),
                wh * torch.log(bh / ah),
            ],
            -1,
        )

    def decode(self, deltas: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        """Boxes xyxy from ``deltas`` ``(..., 4)`` applied to ``anchors``."""
        wx, wy, ww, wh = self.weights
        aw, ah = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
        ax, ay = anchors[..., 0] + aw / 2, anchors[..., 1] + ah / 2
        cx = deltas[..., 0] / wx * aw + ax
        cy = deltas[..., 1] / wy * ah + ay
        w = torch.exp((deltas[..., 2] / ww).clamp(max=MAX_LOG_SCALE)) * aw
        h = torch.exp((deltas[..., 3] / wh).clamp(max=MAX_LOG_SCALE)) * ah
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def match_anchors(
    anchors: torch.Tensor, boxes: torch.Tensor, positive: float, negative: float
) -> torch.Tensor:
    """For each anchor: the index of its object, `NEGATIVE` or `IGNORED`."""
    matches = torch.full((len(anchors),), NEGATIVE, dtype=torch.int64, device=anchors.device)
    if len(boxes) == 0:
        return matches
    ious = box_iou(boxes, anchors)  # (objects, anchors)
    best_iou, best_box = ious.max(0)
    matches = torch.where(best_iou >= positive, best_box, matches)
    matches[(best_iou >= negative) & (best_iou < positive)] = IGNORED
    # Each object's best anchors (ties included) are its own, whatever their IoU.
    object_best = ious.max(1, keepdim=True).values
    _, anchor = ((ious == object_best) & (object_best > 0)).nonzero(as_tuple=True)
    matches[anchor] = best_box[anchor]
    return matches


def anchor_coverage(anchors: torch.Tensor, boxes: torch.Tensor, iou: float = 0.5) -> float:
    """Share of ``boxes`` ``(K, 4)`` whose best anchor of ``anchors`` ``(A, 4)`` (both xyxy,
    in the same image) has an IoU of at least ``iou``; 1.0 when there are no boxes."""
    if len(boxes) == 0:
        return 1.0
    return (box_iou(boxes, anchors).max(1).values >= iou).float().mean().item()
