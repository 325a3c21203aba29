"""Deletion/insertion curves: endpoints, ordering, faithful versus unfaithful maps."""

from __future__ import annotations

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.explain.gradients import saliency
from cnnlab.explain.metrics import compare_methods, deletion_insertion, format_method_scores
from tests.explain.test_perturbation import RegionModel, region_mask


def test_curves_start_at_the_image_and_end_at_the_baseline(model, images, classes):
    curves = deletion_insertion(model, images, classes, torch.rand_like(images), steps=4)
    with torch.no_grad():
        probs = torch.softmax(model(images), 1)[[0, 1], classes]
        empty = torch.softmax(model(torch.zeros_like(images)), 1)[[0, 1], classes]
    torch.testing.assert_close(curves.deletion[:, 0], probs)
    torch.testing.assert_close(curves.deletion[:, -1], empty)
    torch.testing.assert_close(curves.insertion[:, -1], probs)
    assert curves.fractions.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_a_faithful_map_deletes_faster_and_inserts_faster_than_its_reverse():
    x = region_mask().double().expand(3, 1, 8, 8) * torch.linspace(0.6, 1.0, 3).view(3, 1, 1, 1)
    good = region_mask().double().expand_as(x)
    good_curves = deletion_insertion(RegionModel(), x, 0, good, steps=16, blur_sigma=2.0)
    bad_curves = deletion_insertion(RegionModel(), x, 0, -good, steps=16, blur_sigma=2.0)
    assert (good_curves.deletion_auc < bad_curves.deletion_auc).all()
    assert (good_curves.insertion_auc > bad_curves.insertion_auc).all()


def test_a_target_callable_scores_the_curves_itself(model, images):
    curves = deletion_insertion(model, images, lambda out: out[:, 1], torch.rand_like(images))
    with torch.no_grad():
        logits = model(images)[:, 1]
    torch.testing.assert_close(curves.deletion[:, 0], logits)


def test_attributions_of_another_size_are_refused(model, images):
    with pytest.raises(ConfigError, match="do not match"):
        deletion_insertion(model, images, 0, torch.rand(2, 1, 4, 4))


def test_compare_methods_gives_a_row_per_method_and_a_table(model, images, classes):
    rows = compare_methods(model, images, classes, {"saliency": saliency}, steps=4)
    assert [r.method for r in rows] == ["saliency"]
    assert 0 <= rows[0].deletion_auc <= 1 and rows[0].seconds_per_image > 0
    assert 0 <= rows[0].road_morf <= 1 and 0 <= rows[0].road_lerf <= 1
    table = format_method_scores(rows)
    assert "| saliency |" in table and "ROAD MoRF" in table
