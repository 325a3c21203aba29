"""YOLOv1's loss (Redmon et al. 2016, Eq. 3) term by term on a hand-made target."""

import math

import pytest
import torch

from cnnlab.models import create_model
from cnnlab.models.detection.yolo import YOLOv1

# S = 2, B = 2, C = 2 on a 100 x 100 image: cells of 50 pixels.
# The object (10, 20, 40, 60), class 1: centre (25, 40) in cell (row 0, col 0),
# offsets x = 0.5, y = 0.8; w = 0.3, h = 0.4 of the image.
TRUTH = [(torch.tensor([[10.0, 20, 40, 60]]), torch.tensor([1]))]


def hand_grid() -> torch.Tensor:
    grid = torch.zeros(1, 2, 2, 12)
    grid[0, 0, 0] = torch.tensor(
        [0.6, 0.7, 0.5, 0.7, 0.9, 0.2, 0.2, 0.1, 0.1, 0.3, 0.2, 0.7]
    )  # box 0 near the object, box 1 a 1-pixel box at (10, 10): box 0 is responsible
    grid[0, 0, 1, [4, 9, 10, 11]] = torch.tensor([0.4, 0.1, 0.5, 0.5])
    grid[0, 1, 0, [4, 9, 10, 11]] = torch.tensor([0.0, 0.2, 0.9, 0.1])
    grid[0, 1, 1, [4, 9, 10, 11]] = torch.tensor([0.3, -0.1, 0.3, 0.3])
    return grid


def box0_iou() -> float:
    # box 0: centre (0.6 * 50, 0.7 * 50) = (30, 35), w = 0.5² * 100 = 25, h = 0.7² * 100 = 49
    # -> (17.5, 10.5, 42.5, 59.5); with (10, 20, 40, 60): 22.5 x 39.5 overlap.
    inter = 22.5 * 39.5
    return inter / (25 * 49 + 30 * 40 - inter)


def test_every_term_of_eq3_by_hand():
    model = YOLOv1(num_classes=2, in_chans=1, grid=2, boxes=2)
    terms = model.loss({"grid": hand_grid(), "image_size": (100, 100)}, TRUTH)
    assert terms["coord_xy"].item() == pytest.approx(5 * ((0.6 - 0.5) ** 2 + (0.7 - 0.8) ** 2))
    wh = (0.5 - math.sqrt(0.3)) ** 2 + (0.7 - math.sqrt(0.4)) ** 2
    assert terms["coord_wh"].item() == pytest.approx(5 * wh)
    assert terms["obj"].item() == pytest.approx((0.9 - box0_iou()) ** 2)
    # every other predictor: box 1 of the object's cell and both boxes of the three others
    noobj = 0.3**2 + 0.4**2 + 0.1**2 + 0.0**2 + 0.2**2 + 0.3**2 + (-0.1) ** 2
    assert terms["noobj"].item() == pytest.approx(0.5 * noobj)
    # class probabilities only where an object is: (0.2 - 0)² + (0.7 - 1)²
    assert terms["cls"].item() == pytest.approx(0.2**2 + 0.3**2)
    parts = sum(terms[k] for k in ("coord_xy", "coord_wh", "obj", "noobj", "cls"))
    assert terms["loss"].item() == pytest.approx(parts.item())


def test_the_predictor_with_the_higher_iou_is_responsible():
    grid = hand_grid()
    grid[0, 0, 0, 5:9] = torch.tensor([0.5, 0.8, math.sqrt(0.3), math.sqrt(0.4)])  # box 1 exact
    model = YOLOv1(num_classes=2, in_chans=1, grid=2, boxes=2)
    terms = model.loss({"grid": grid, "image_size": (100, 100)}, TRUTH)
    assert terms["coord_xy"].item() == pytest.approx(0.0, abs=1e-10)
    assert terms["coord_wh"].item() == pytest.approx(0.0, abs=1e-10)
    assert terms["obj"].item() == pytest.approx((0.3 - 1.0) ** 2)  # box 1's confidence vs IoU 1
    noobj = 0.9**2 + 0.4**2 + 0.1**2 + 0.0**2 + 0.2**2 + 0.3**2 + (-0.1) ** 2
    assert terms["noobj"].item() == pytest.approx(0.5 * noobj)


def test_the_loss_is_averaged_over_the_images_of_a_batch():
    model = YOLOv1(num_classes=2, in_chans=1, grid=2, boxes=2)
    one = model.loss({"grid": hand_grid(), "image_size": (100, 100)}, TRUTH)
    two = model.loss({"grid": hand_grid().repeat(2, 1, 1, 1), "image_size": (100, 100)}, TRUTH * 2)
    assert two["loss"].item() == pytest.approx(one["loss"].item())


def test_a_cell_keeps_the_largest_of_the_objects_centred_in_it():
    model = YOLOv1(num_classes=2, in_chans=1, grid=2, boxes=2)
    boxes = torch.tensor([[20.0, 20, 40, 40], [5, 5, 55, 55]])  # both centred in cell (0, 0)
    target = model.encode([(boxes, torch.tensor([0, 1]))], (100, 100), "cpu")
    assert target["classes"][0, 0, 0] == 1
    torch.testing.assert_close(target["pixels"][0, 0, 0], boxes[1])


def test_detections_score_class_probability_times_confidence():
    model = YOLOv1(num_classes=2, in_chans=1, grid=2, boxes=2)
    found = model.detect({"grid": hand_grid(), "image_size": (100, 100)}, score_threshold=0.5)[0]
    # cell (0, 0): box 0 has confidence 0.9 and p(1) = 0.7: score 0.63, the only one above 0.5
    assert found.scores.tolist() == pytest.approx([0.63])
    assert found.labels.tolist() == [1]
    torch.testing.assert_close(found.boxes[0], torch.tensor([17.5, 10.5, 42.5, 59.5]))


def test_the_builder_takes_any_input_size_and_channel_count():
    model = create_model("yolov1", num_classes=3, in_chans=3, grid=5, boxes=3)
    out = model(torch.rand(2, 3, 80, 112))
    assert out["grid"].shape == (2, 5, 5, 3 * 5 + 3)
