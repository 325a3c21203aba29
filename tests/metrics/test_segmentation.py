"""Segmentation metrics against scikit-learn and the confusion-matrix definitions."""

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, jaccard_score, precision_recall_fscore_support

from cnnlab.errors import ConfigError
from cnnlab.metrics.segmentation import pixel_confusion_matrix, segmentation_report

NAMES = ["background", "a", "b", "c"]


@pytest.fixture
def masks():
    generator = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 4, (5, 16, 16), generator=generator)
    noise = torch.randint(0, 4, (5, 16, 16), generator=generator)
    keep = torch.rand(5, 16, 16, generator=generator) < 0.7
    return truth, torch.where(keep, truth, noise)


def test_the_pixel_confusion_matrix_is_scikit_learns(masks):
    truth, pred = masks
    expected = confusion_matrix(truth.flatten(), pred.flatten(), labels=range(4))
    np.testing.assert_array_equal(pixel_confusion_matrix(truth, pred, 4).numpy(), expected)


def test_iou_precision_recall_and_accuracy_equal_scikit_learns(masks):
    truth, pred = masks
    report = segmentation_report(pixel_confusion_matrix(truth, pred, 4), NAMES)
    flat_true, flat_pred = truth.flatten().numpy(), pred.flatten().numpy()
    iou = jaccard_score(flat_true, flat_pred, average=None, labels=range(4))
    p, r, f, s = precision_recall_fscore_support(flat_true, flat_pred, labels=range(4))
    rows = report["per_class"]
    np.testing.assert_allclose([row["iou"] for row in rows], iou)
    np.testing.assert_allclose([row["precision"] for row in rows], p)
    np.testing.assert_allclose([row["recall"] for row in rows], r)
    np.testing.assert_allclose([row["f1"] for row in rows], f)
    assert [row["support"] for row in rows] == s.tolist()
    assert report["miou"] == pytest.approx(iou.mean())
    assert report["accuracy"] == pytest.approx((flat_true == flat_pred).mean())


def test_a_class_absent_from_masks_and_predictions_is_left_out_of_the_mean():
    truth = torch.tensor([[0, 0, 1, 1]])
    report = segmentation_report(pixel_confusion_matrix(truth, truth, 3), ["bg", "x", "y"])
    assert report["per_class"][2]["iou"] is None and report["miou"] == 1.0


def test_masks_with_labels_outside_the_class_list_are_refused():
    with pytest.raises(ConfigError, match="class indices"):
        pixel_confusion_matrix(torch.tensor([[0, 5]]), torch.tensor([[0, 1]]), 3)
    with pytest.raises(ConfigError, match="differ in shape"):
        pixel_confusion_matrix(torch.zeros(2, 4), torch.zeros(2, 5), 3)
