"""RetinaNet's anchors and loss (Lin et al. 2017): coverage of the canvases' boxes, and the
focal loss and box loss normalised by the number of positive anchors, checked by hand."""

import math

import numpy as np
import pytest
import torch

from cnnlab.data.det_canvas import load_detection_canvases
from cnnlab.data.detection import unpad_targets
from cnnlab.models import create_model
from cnnlab.models.detection.anchors import anchor_coverage


@pytest.fixture(scope="module")
def canvas_boxes():
    """Every box of the 2000 training canvases of det-canvas, and its class."""
    train, _ = load_detection_canvases()
    targets = unpad_targets(train.labels)
    return torch.cat([b for b, _ in targets]), torch.cat([c for _, c in targets])


def anchors_of(model, size: int = 96) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.zeros(1, 1, size, size))["anchors"]


def test_coverage_counts_the_boxes_whose_best_anchor_reaches_the_iou():
    anchors = torch.tensor([[0.0, 0, 10, 10], [20.0, 20, 40, 40]])
    boxes = torch.tensor(
        [
            [0.0, 0, 10, 12],  # IoU 100/120 = 0.83 with anchor 0
            [20.0, 20, 30, 40],  # IoU 200/400 = 0.5 with anchor 1: counts (>=)
            [60.0, 60, 70, 70],  # overlaps nothing
            [0.0, 0, 10, 30],  # IoU 100/300 = 0.33 with anchor 0
        ]
    )
    assert anchor_coverage(anchors, boxes) == 0.5
    assert anchor_coverage(anchors, boxes, iou=0.3) == 0.75
    assert anchor_coverage(anchors, boxes[:0]) == 1.0


def test_retinanet_anchors_cover_the_canvas_boxes(canvas_boxes):
    """At least 95 % of the det-canvas boxes (glyphs of 11-40 pixels on 96x96 canvases) have
    an anchor of IoU >= 0.5 (a positive by RetinaNet's threshold), in every class."""
    boxes, classes = canvas_boxes
    anchors = anchors_of(create_model("retinanet", num_classes=3, in_chans=1, input_size=96))
    assert anchor_coverage(anchors, boxes) >= 0.95
    for k in range(3):
        assert anchor_coverage(anchors, boxes[classes == k]) >= 0.9


def test_the_paper_anchor_scale_misses_the_small_glyphs(canvas_boxes):
    """RetinaNet's own base size (4 x the stride, for 32-512 pixel objects in 800-pixel
    images) leaves about half the glyphs without a positive anchor: the reason for the
    smaller default scale."""
    boxes, _ = canvas_boxes
    paper = create_model("retinanet", num_classes=3, in_chans=1, input_size=96, anchor_scale=4)
    assert anchor_coverage(anchors_of(paper), boxes) < 0.6


def focal(p: np.ndarray, target: np.ndarray, alpha: float = 0.25, gamma: float = 2.0):
    """FL(p_t) = -α_t (1 - p_t)^γ log(p_t), Lin et al. 2017, Eq. 5, elementwise."""
    p_t = np.where(target == 1, p, 1 - p)
    alpha_t = np.where(target == 1, alpha, 1 - alpha)
    return -alpha_t * (1 - p_t) ** gamma * np.log(p_t)


def test_focal_and_box_losses_are_summed_and_divided_by_the_positive_anchors():
    """Two images, four anchors, two classes. Image 0 holds one object of class 1 at
    (0, 0, 10, 10): anchors 0 (IoU 1) and 1 (IoU 0.71) are positive, anchor 2 (IoU 0.45)
    is ignored, anchor 3 negative. Image 1 holds nothing: all four anchors negative. The
    sums run over the non-ignored anchors of both images and are divided by the 2
    positives of the batch."""
    model = create_model("retinanet", num_classes=2, in_chans=1, input_size=32)
    anchors = torch.tensor(
        [[0.0, 0, 10, 10], [0.0, 0, 10, 14], [0.0, 0, 10, 22], [80.0, 80, 90, 90]]
    )
    logits = torch.tensor(
        [
            [[-1.0, 2.0], [0.5, -0.5], [3.0, 3.0], [-2.0, 1.0]],
            [[0.0, -3.0], [1.5, 0.2], [-1.0, -1.0], [2.0, 0.3]],
        ]
    )
    deltas = torch.tensor(
        [
            [[0.1, -0.2, 0.3, 0.0], [0.0, 0.0, 0.0, 0.0], [5.0, 5, 5, 5], [9.0, 9, 9, 9]],
            torch.full((4, 4), 7.0).tolist(),
        ]
    )
    output = {"cls": logits, "box": deltas, "anchors": anchors}
    targets = [
        (torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([1])),
        (torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64)),
    ]
    terms = model.loss(output, targets)

    p = 1 / (1 + np.exp(-logits.double().numpy()))
    onehot = np.zeros((2, 4, 2))
    onehot[0, 0, 1] = onehot[0, 1, 1] = 1
    used = np.ones((2, 4), bool)
    used[0, 2] = False  # ignored
    expected_cls = focal(p, onehot)[used].sum() / 2
    # Anchor 0 is the box itself: targets 0. Anchor 1 (centre (5, 7), 10 x 14) → the box
    # (centre (5, 5), 10 x 10): t = (0, -2/14, log 1, log(10/14)) (R-CNN's coding).
    wanted = np.array([[0, 0, 0, 0], [0, -2 / 14, 0, math.log(10 / 14)]])
    expected_box = np.abs(deltas[0, :2].double().numpy() - wanted).sum() / 2
    assert terms["cls"].item() == pytest.approx(expected_cls, rel=1e-5)
    assert terms["box"].item() == pytest.approx(expected_box, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(expected_cls + expected_box, rel=1e-5)
