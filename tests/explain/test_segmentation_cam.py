"""Seg-Grad-CAM (Vinogradova et al. 2020): captum's LayerGradCam on a region-summed forward."""

from __future__ import annotations

import pytest
import torch
from captum.attr import LayerGradCam

from cnnlab.errors import ConfigError
from cnnlab.explain.cam import grad_cam
from cnnlab.explain.gradients import integrated_gradients
from cnnlab.explain.segmentation import (
    RegionScore,
    bottleneck_layer,
    predicted_mask,
    region_mask,
    seg_grad_cam,
)
from cnnlab.models.registry import create_model_for_input
from cnnlab.models.segnet import SegNet

CLASSES = 4


@pytest.fixture(scope="module")
def segnet():
    """A seeded float64 SegNet (3 stages of width 4-16) on 1x16x16 images, eval mode."""
    torch.manual_seed(0)
    return SegNet(CLASSES, 1, ((1, 4), (1, 8), (1, 16))).double().eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(1)).double()


def _captum(model, images, layer, forward) -> torch.Tensor:
    module = dict(model.named_modules())[layer]
    return LayerGradCam(forward, module).attribute(images, relu_attributions=True).detach()


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_region_map_matches_captum_on_the_region_summed_logits(segnet, images, reduction):
    mask = region_mask((3, 2, 11, 9), (16, 16))
    c = 2

    def forward(x):
        region = x.new_zeros(16, 16)
        region[2:9, 3:11] = 1  # rows y0..y1-1, columns x0..x1-1
        score = (segnet(x)[:, c] * region).sum((1, 2))
        return score / region.sum() if reduction == "mean" else score

    layer = bottleneck_layer(segnet, images)
    expected = _captum(segnet, images, layer, forward)
    ours = seg_grad_cam(
        segnet, images, c, (3, 2, 11, 9), reduction=reduction, upsample=False, layer=layer
    )
    assert expected.abs().max() > 0  # a real map, not two zeros
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-9)
    assert mask.sum() == 8 * 7


def test_without_a_region_the_pixels_predicted_as_the_class_are_summed(segnet, images):
    with torch.no_grad():
        predicted = segnet(images).argmax(1)
    c = int(predicted.flatten().mode().values)  # a class that is predicted somewhere

    def forward(x):
        return (segnet(x)[:, c] * (predicted == c)).sum((1, 2))

    layer = "decoder.1"
    expected = _captum(segnet, images, layer, forward)
    ours = seg_grad_cam(segnet, images, c, layer=layer, upsample=False)
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-9)
    assert torch.equal(predicted_mask(segnet, images, c), predicted == c)


def test_it_is_grad_cam_with_a_region_score_and_is_upsampled_to_the_input(segnet, images):
    score = RegionScore(1, region_mask((0, 0, 8, 8), (16, 16)))
    maps = seg_grad_cam(segnet, images, 1, (0, 0, 8, 8))
    assert maps.shape == (3, 1, 16, 16)
    layer = bottleneck_layer(segnet, images)
    torch.testing.assert_close(maps, grad_cam(segnet, images, score, layer))


def test_the_bottleneck_is_the_first_decoder_stage_not_the_score_map(segnet, images):
    assert bottleneck_layer(segnet, images) == "decoder.0"


def test_the_fcn_bottleneck_is_its_features_before_the_coarse_scores():
    torch.manual_seed(0)
    fcn = create_model_for_input("fcn8s", CLASSES, (1, 32, 32)).eval()
    assert bottleneck_layer(fcn, torch.rand(1, 1, 32, 32)) == "head.0"  # not dropout, not scores


def test_per_image_masks_are_tiled_for_methods_that_evaluate_copies(segnet, images):
    masks = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(2)) > 0.5
    together = integrated_gradients(segnet, images, RegionScore(3, masks), steps=4)
    alone = torch.cat(
        [
            integrated_gradients(
                segnet, images[i : i + 1], RegionScore(3, masks[i : i + 1]), steps=4
            )
            for i in range(3)
        ]
    )
    torch.testing.assert_close(together, alone)


@pytest.mark.parametrize(
    "region, message",
    [
        ((4, 4, 4, 8), "non-empty rectangle"),
        ((0, 0, 17, 8), "x1 <= 16"),
        ((-1, 0, 4, 4), "0 <= x0"),
        ((0, 0, 4), "four integers"),
    ],
)
def test_bad_regions_are_refused_with_the_rule(region, message):
    with pytest.raises(ConfigError, match=message):
        region_mask(region, (16, 16))


def test_a_class_outside_the_model_is_refused(segnet, images):
    with pytest.raises(ConfigError, match="scores 4 classes"):
        seg_grad_cam(segnet, images, 7, (0, 0, 4, 4))


def test_a_classifier_output_is_refused(images):
    with pytest.raises(ConfigError, match="segmentation output"):
        RegionScore(0, torch.ones(16, 16))(torch.zeros(3, 10))
