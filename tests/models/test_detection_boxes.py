"""Boxes, IoU, NMS, anchors and the box coding of cnnlab.models.detection (property tests)."""

import math

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torchvision.ops import batched_nms, box_convert, box_iou

from cnnlab.models.detection.anchors import (
    IGNORED,
    MAX_LOG_SCALE,
    NEGATIVE,
    BoxCoder,
    grid_anchors,
    match_anchors,
)
from cnnlab.models.detection.common import paired_iou, select_detections

coordinate = st.floats(0, 90, allow_nan=False, width=32)


@st.composite
def boxes(draw, min_size=0, max_size=12):
    """Valid xyxy boxes (x1 < x2, y1 < y2) inside a 100 x 100 image."""
    count = draw(st.integers(min_size, max_size))
    rows = []
    for _ in range(count):
        x1, y1 = draw(coordinate), draw(coordinate)
        w = draw(st.floats(1.5, 100, width=32))
        h = draw(st.floats(1.5, 100, width=32))
        rows.append([x1, y1, min(x1 + w, 100), min(y1 + h, 100)])
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


@settings(max_examples=30, deadline=None)
@given(boxes(), boxes())
def test_iou_is_symmetric_and_between_zero_and_one(a, b):
    ab, ba = box_iou(a, b), box_iou(b, a)
    torch.testing.assert_close(ab, ba.T)
    assert ((ab >= 0) & (ab <= 1 + 1e-6)).all()


@settings(max_examples=30, deadline=None)
@given(boxes(min_size=1))
def test_paired_iou_is_the_diagonal_of_box_iou_and_one_with_itself(a):
    b = a.flip(0)
    torch.testing.assert_close(paired_iou(a, b), box_iou(a, b).diagonal())
    torch.testing.assert_close(paired_iou(a, a), torch.ones(len(a)))


@settings(max_examples=30, deadline=None)
@given(boxes(), st.data())
def test_nms_keeps_a_subset_ordered_by_score_equal_to_torchvision(candidates, data):
    n = len(candidates)
    scores = torch.tensor(
        data.draw(st.lists(st.floats(0.0625, 1, width=32), min_size=n, max_size=n, unique=True))
    ).reshape(-1)
    labels = torch.tensor(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    labels = labels.reshape(-1).long()
    kept = select_detections(candidates, scores, labels, (101, 101), score_threshold=0.05)
    order = batched_nms(candidates, scores, labels, 0.5)
    torch.testing.assert_close(kept.boxes, candidates[order])
    torch.testing.assert_close(kept.scores, scores[order])
    assert (kept.scores[:-1] >= kept.scores[1:]).all()
    same_class = kept.labels[:, None] == kept.labels[None, :]
    overlap = box_iou(kept.boxes, kept.boxes).masked_fill(torch.eye(len(kept.boxes)).bool(), 0)
    assert (overlap[same_class] <= 0.5).all()  # no two kept boxes of a class overlap > 0.5


@settings(max_examples=30, deadline=None)
@given(boxes(min_size=1))
def test_box_conversions_round_trip(a):
    for fmt in ("cxcywh", "xywh"):
        torch.testing.assert_close(box_convert(box_convert(a, "xyxy", fmt), fmt, "xyxy"), a)


@settings(max_examples=30, deadline=None)
@given(boxes(min_size=1), st.data())
def test_box_coding_round_trips(targets, data):
    """decode(encode(b)) = b in float64, wherever the size ratio is inside the decoder's clamp
    (MAX_LOG_SCALE, torchvision's: larger ratios are clipped on purpose)."""
    anchors = data.draw(boxes(min_size=len(targets), max_size=len(targets)))
    targets, anchors = targets.double(), anchors.double()
    ratios = (targets[:, 2:] - targets[:, :2]) / (anchors[:, 2:] - anchors[:, :2])
    assume(bool(ratios.log().max() < MAX_LOG_SCALE))
    for weights in ((1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)):
        coder = BoxCoder(weights)
        decoded = coder.decode(coder.encode(targets, anchors), anchors)
        torch.testing.assert_close(decoded, targets, atol=1e-9, rtol=1e-9)


def test_box_coding_by_hand():
    anchor = torch.tensor([[0.0, 0, 10, 20]])  # centre (5, 10), 10 x 20
    box = torch.tensor([[2.0, 4, 22, 24]])  # centre (12, 14), 20 x 20
    expected = [(12 - 5) / 10, (14 - 10) / 20, math.log(2), math.log(1)]
    torch.testing.assert_close(BoxCoder().encode(box, anchor)[0], torch.tensor(expected))
    weighted = BoxCoder((10.0, 10.0, 5.0, 5.0)).encode(box, anchor)[0]
    torch.testing.assert_close(weighted, torch.tensor(expected) * torch.tensor([10, 10, 5, 5.0]))


def test_grid_anchors_are_centred_on_the_cells_with_their_size_and_ratio():
    anchors = grid_anchors((2, 3), 8, sizes=[16.0], ratios=[0.5, 2.0])
    assert anchors.shape == (2 * 3 * 2, 4)
    centres = box_convert(anchors, "xyxy", "cxcywh")
    # position-major: the two anchors of position (row 1, col 2) are rows 10 and 11
    torch.testing.assert_close(centres[10, :2], torch.tensor([2.5 * 8, 1.5 * 8]))
    torch.testing.assert_close(centres[:, 2] * centres[:, 3], torch.full((12,), 256.0))
    torch.testing.assert_close(centres[0, 3] / centres[0, 2], torch.tensor(0.5))
    torch.testing.assert_close(centres[1, 3] / centres[1, 2], torch.tensor(2.0))


def test_anchor_matching_positive_ignored_negative_and_best_anchor():
    truth = torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60]])
    anchors = torch.tensor(
        [
            [0.0, 0, 10, 10],  # IoU 1 with object 0: positive
            [0.0, 0, 10, 14],  # IoU 0.71: positive at 0.5
            [0.0, 0, 10, 22],  # IoU 0.45: between 0.4 and 0.5, ignored
            [80.0, 80, 90, 90],  # nothing: negative
            [50.0, 50, 70, 70],  # object 1's best (IoU 0.25): positive anyway
        ]
    )
    matches = match_anchors(anchors, truth, 0.5, 0.4)
    assert matches.tolist() == [0, 0, IGNORED, NEGATIVE, 1]
    assert match_anchors(anchors, truth[:0], 0.5, 0.4).tolist() == [NEGATIVE] * 5
