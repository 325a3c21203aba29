"""Test-time augmentation and ensembles (cnnlab.runs.tta, evaluate_ensemble)."""

import json
import shutil

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, DataError, UnknownNameError
from cnnlab.runs import tta_probabilities, tta_views
from cnnlab.tasks import evaluate_ensemble, evaluate_run


def test_flip_views_are_the_image_and_its_mirror():
    images = torch.rand(2, 1, 8, 8)
    original, mirror = tta_views(images, "flip")
    assert torch.equal(original, images) and torch.equal(mirror, images.flip(-1))


def test_crops_are_alexnets_ten_views_with_the_centre_unchanged():
    images = torch.rand(2, 3, 16, 16)
    views = tta_views(images, "crops")
    assert len(views) == 10 and all(v.shape == images.shape for v in views)
    assert torch.equal(views[4], images) and torch.equal(views[9], images.flip(-1))


def test_views_follow_the_training_augmentation():
    images = torch.rand(2, 1, 16, 16)
    shifted = tta_views(images, "crops", ["crop:2"])  # no flip in training: no mirrors
    assert len(shifted) == 5 and torch.equal(shifted[4], images)
    assert torch.equal(shifted[0][..., 2:, 2:], images[..., :-2, :-2])  # a 2-pixel shift
    both = tta_views(images, "crops", ["flip", "crop:2"])
    assert len(both) == 10 and torch.equal(both[9], images.flip(-1))
    assert [torch.equal(v, images) for v in tta_views(images, "crops", [])] == [True]
    assert len(tta_views(images, "crops", ["translate:0.25"])) == 5
    with pytest.raises(ConfigError, match="without flips"):
        tta_views(images, "flip", ["crop:2"])


def test_tta_averages_the_probabilities_of_the_views():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    images = torch.rand(4, 1, 4, 4)
    expected = (model(images).softmax(1) + model(images.flip(-1)).softmax(1)) / 2
    torch.testing.assert_close(tta_probabilities(model, images, "flip"), expected)
    torch.testing.assert_close(tta_probabilities(model, images, None), model(images).softmax(1))


def test_unknown_tta_mode_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="crops"):
        tta_views(torch.rand(1, 1, 4, 4), "rotate")


def test_an_ensemble_of_one_run_twice_equals_the_run(digits_run):
    single = evaluate_run(digits_run)
    ensemble = evaluate_ensemble([digits_run, digits_run])
    assert ensemble["accuracy"] == pytest.approx(single["accuracy"])
    accuracies = [member["accuracy"] for member in ensemble["members"]]
    assert accuracies == pytest.approx([single["accuracy"]] * 2)


def test_tta_results_are_stored_under_their_own_key(digits_run):
    evaluate_run(digits_run, tta="crops")
    assert "test+tta-crops" in json.loads((digits_run / "metrics.json").read_text())


def test_crops_on_digits_do_not_lower_the_accuracy(digits_run):
    """Digits are never mirrored: the views are the training crop's shifts only."""
    plain = evaluate_run(digits_run)["accuracy"]
    assert evaluate_run(digits_run, tta="crops")["accuracy"] >= plain
    with pytest.raises(ConfigError, match="without flips"):
        evaluate_run(digits_run, tta="flip")


def test_an_ensemble_of_runs_with_other_classes_is_refused(digits_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(digits_run, other)
    (other / "meta.json").write_text(
        (digits_run / "meta.json").read_text().replace('"0"', '"zero"', 1)
    )
    with pytest.raises(DataError, match="same classes"):
        evaluate_ensemble([digits_run, other])
