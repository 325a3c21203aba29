"""mAP (cnnlab.metrics.detection) against pycocotools on the same predictions, and by hand."""

import contextlib
import io

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cnnlab.metrics.detection import Detections, average_precision, detection_report


def random_scene(seed: int, images: int = 30, classes: int = 3):
    """Ground truth and noisy detections (jittered truths plus false positives)."""
    rng = np.random.default_rng(seed)
    targets, predictions = [], []
    for _ in range(images):
        n = int(rng.integers(0, 6))
        xy = rng.uniform(0, 70, (n, 2))
        wh = rng.uniform(5, 30, (n, 2))
        boxes = torch.tensor(np.concatenate([xy, xy + wh], 1), dtype=torch.float32)
        labels = torch.from_numpy(rng.integers(0, classes, n))
        targets.append((boxes, labels))
        jitter = torch.from_numpy(rng.normal(0, 1.5, (n, 4))).float()
        extra = int(rng.integers(0, 4))
        exy = rng.uniform(0, 70, (extra, 2))
        fake = torch.tensor(np.concatenate([exy, exy + rng.uniform(5, 30, (extra, 2))], 1))
        jittered = boxes + jitter
        jittered[:, 2:] = torch.maximum(jittered[:, 2:], jittered[:, :2] + 1)  # x2 > x1
        det_boxes = torch.cat([jittered, fake.float()])
        det_labels = torch.cat([labels, torch.from_numpy(rng.integers(0, classes, extra))])
        flip = torch.from_numpy(rng.random(len(det_labels)) < 0.1)  # some wrong classes
        det_labels = torch.where(flip, (det_labels + 1) % classes, det_labels)
        scores = torch.from_numpy(rng.random(len(det_labels))).float()
        predictions.append(Detections(det_boxes, scores, det_labels))
    return predictions, targets


def coco_stats(predictions, targets, classes: int) -> np.ndarray:
    """pycocotools' 12 summary numbers for the same boxes."""
    images, annotations, results = [], [], []
    for i, ((boxes, labels), det) in enumerate(zip(targets, predictions, strict=True)):
        images.append({"id": i, "width": 100, "height": 100})
        for box, label in zip(boxes.tolist(), labels.tolist(), strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": label,
                    "bbox": [box[0], box[1], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for box, score, label in zip(
            det.boxes.tolist(), det.scores.tolist(), det.labels.tolist(), strict=True
        ):
            results.append(
                {
                    "image_id": i,
                    "category_id": label,
                    "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    "score": score,
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": c} for c in range(classes)],
        }
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation.stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_agrees_with_pycocotools(seed):
    predictions, targets = random_scene(seed)
    stats = coco_stats(predictions, targets, 3)
    report = detection_report(predictions, targets, ["a", "b", "c"])
    assert report["map"] == pytest.approx(stats[0], abs=1e-4)
    assert report["map50"] == pytest.approx(stats[1], abs=1e-4)
    assert report["map75"] == pytest.approx(stats[2], abs=1e-4)


def test_perfect_detections_have_ap_one():
    boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 50]])
    labels = torch.tensor([0, 1])
    det = Detections(boxes, torch.tensor([0.9, 0.8]), labels)
    report = detection_report([det], [(boxes, labels)], ["a", "b"])
    assert report["map"] == report["map50"] == 1.0


def test_ap_by_hand_one_false_positive_ranked_first():
    """Two truths; detections in score order: FP, TP, TP.  Precision 0, 1/2, 2/3 at recall
    0, 1/2, 1; the monotone envelope is 2/3 everywhere, so AP = 2/3 at every level."""
    truth = torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60]])
    det = Detections(
        torch.tensor([[80.0, 80, 90, 90], [0, 0, 10, 10], [50, 50, 60, 60]]),
        torch.tensor([0.9, 0.8, 0.7]),
        torch.zeros(3, dtype=torch.int64),
    )
    ap, curves = average_precision([det], [(truth, torch.zeros(2, dtype=torch.int64))], 1)
    np.testing.assert_allclose(ap, 2 / 3)
    np.testing.assert_allclose(curves[0]["precision"], [0, 1 / 2, 2 / 3])
    np.testing.assert_allclose(curves[0]["recall"], [0, 1 / 2, 1])


def test_a_duplicate_detection_is_a_false_positive():
    """The second box on the same object finds it taken: precision 1, 1/2 at recall 1."""
    truth = torch.tensor([[0.0, 0, 10, 10]])
    det = Detections(
        torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 11]]),
        torch.tensor([0.9, 0.8]),
        torch.zeros(2, dtype=torch.int64),
    )
    _, curves = average_precision([det], [(truth, torch.zeros(1, dtype=torch.int64))], 1)
    np.testing.assert_allclose(curves[0]["precision"], [1, 1 / 2])


def test_a_class_without_ground_truth_is_left_out_of_the_mean():
    boxes = torch.tensor([[0.0, 0, 10, 10]])
    det = Detections(
        torch.tensor([[0.0, 0, 10, 10], [30, 30, 40, 40]]),
        torch.tensor([0.9, 0.8]),
        torch.tensor([0, 1]),
    )
    report = detection_report([det], [(boxes, torch.tensor([0]))], ["a", "b"])
    assert report["map50"] == 1.0
    assert report["per_class"][1]["ap50"] is None
