"""Class activation maps: captum agreement, localization, layer choice, CAM's applicability."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.explain.cam import cam, grad_cam, grad_cam_plus_plus, guided_grad_cam
from cnnlab.explain.context import last_spatial_layer
from cnnlab.explain.gradients import guided_backprop
from tests.explain.conftest import tiny_cnn


def test_grad_cam_matches_captum_layer_grad_cam_upsampled(model, images, classes):
    coarse = LayerGradCam(model, model.features).attribute(
        images, target=classes, relu_attributions=True
    )
    expected = LayerAttribution.interpolate(coarse, (8, 8), "bilinear").detach()
    ours = grad_cam(model, images, classes, layer="features")
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))


def test_grad_cam_without_upsampling_has_the_layer_resolution(model, images, classes):
    assert grad_cam(model, images, classes, upsample=False).shape == (2, 1, 4, 4)


def test_default_layer_is_the_last_spatial_one(model, images):
    assert last_spatial_layer(model, images) in ("features", "features.r2")


def test_grad_cam_at_a_named_inner_layer(model, images, classes):
    assert grad_cam(model, images, classes, layer="features.c1", upsample=False).shape == (
        2,
        1,
        8,
        8,
    )


def test_unknown_layer_names_the_valid_ones(model, images):
    with pytest.raises(UnknownNameError, match=r"features\.c1"):
        grad_cam(model, images, 0, layer="conv9")


def _bright_square_detector() -> nn.Sequential:
    """Channel 0 fires on bright pixels, channel 1 on dark ones; class 0 = "bright", 1 = "dark"."""
    conv = nn.Conv2d(1, 2, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.stack([torch.ones(1, 3, 3), -torch.ones(1, 3, 3)]) / 9)
        conv.bias.copy_(torch.tensor([-0.5, 0.5]))
        fc = nn.Linear(2, 2)
        fc.weight.copy_(torch.eye(2))
        fc.bias.zero_()
    layers = OrderedDict(conv=conv, relu=nn.ReLU(), gap=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten())
    return nn.Sequential(OrderedDict(**layers, fc=fc)).double().eval()


@pytest.mark.parametrize("quadrant", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("method", [grad_cam, grad_cam_plus_plus, cam])
def test_class_map_lights_the_quadrant_that_decides_the_class(method, quadrant):
    x = torch.full((1, 1, 16, 16), 0.1, dtype=torch.float64)
    top, left = 8 * quadrant[0], 8 * quadrant[1]
    x[..., top + 2 : top + 6, left + 2 : left + 6] = 1.0
    heat = method(_bright_square_detector(), x, 0)[0, 0]
    inside = heat[top : top + 8, left : left + 8].sum()
    assert inside > 0.95 * heat.clamp_min(0).sum()


def test_guided_grad_cam_is_guided_backprop_times_grad_cam(model, images, classes):
    expected = guided_backprop(model, images, classes) * grad_cam(model, images, classes)
    torch.testing.assert_close(guided_grad_cam(model, images, classes), expected)


def test_cam_equals_classifier_weights_times_feature_maps(model, images, classes):
    with torch.no_grad():
        maps = model.features(images)
    weights = model.fc.weight[classes].detach()
    expected = torch.einsum("nk,nkhw->nhw", weights, maps)[:, None]
    torch.testing.assert_close(cam(model, images, classes, upsample=False), expected)


def test_cam_refuses_a_model_without_global_average_pooling(images):
    flat = nn.Sequential(
        OrderedDict(conv=nn.Conv2d(3, 2, 3, padding=1), relu=nn.ReLU(), flat=nn.Flatten())
    )
    model = nn.Sequential(flat, nn.Linear(2 * 8 * 8, 3)).double()
    with pytest.raises(ConfigError, match="global-average-pools"):
        cam(model, images, 0)


def test_grad_cam_with_inplace_relus_equals_the_plain_model(images, classes):
    torch.testing.assert_close(
        grad_cam(tiny_cnn(inplace=True), images, classes, layer="features.c2"),
        grad_cam(tiny_cnn(), images, classes, layer="features.c2"),
    )


def test_grad_cam_plus_plus_is_nonnegative_and_differs_from_grad_cam(model, images, classes):
    plus = grad_cam_plus_plus(model, images, classes)
    assert (plus >= 0).all()
    assert not torch.allclose(plus, grad_cam(model, images, classes))


def test_grad_cam_works_under_no_grad(model, images, classes):
    expected = grad_cam(model, images, classes)
    with torch.no_grad():
        torch.testing.assert_close(grad_cam(model, images, classes), expected)
