"""FCN-32s/16s/8s (Long et al. 2015): stage choice, skip fusion, bilinear start, any backbone."""

import pytest
import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model
from cnnlab.models.fcn import _fused_stages
from cnnlab.models.registry import create_model_for_input
from cnnlab.nn.upsample import bilinear_kernel


@pytest.mark.parametrize(
    ("reductions", "skips", "expected"),
    [
        ([2, 4, 8, 16, 32], 0, [4]),  # ImageNet ResNet: pool5
        ([2, 4, 8, 16, 32], 1, [4, 3]),  # + pool4
        ([2, 4, 8, 16, 32], 2, [4, 3, 2]),  # + pool3
        ([1, 2, 4, 8, 16, 32], 2, [5, 4, 3]),  # VGG
        ([1, 2, 4, 8], 2, [3, 2, 1]),  # CIFAR-stem ResNet: strides 8, 4, 2
    ],
)
def test_the_fused_stages_halve_the_stride_each_time(reductions, skips, expected):
    assert _fused_stages(reductions, skips) == expected


def test_a_backbone_without_the_finer_stages_is_a_config_error():
    with pytest.raises(ConfigError, match=r"strides \[4, 2, 1\].*\[2, 4\]"):
        _fused_stages([2, 4], 2)


@pytest.mark.parametrize(("name", "stride"), [("fcn32s", 8), ("fcn16s", 4), ("fcn8s", 2)])
def test_each_variant_predicts_every_pixel_from_its_finest_stage(name, stride):
    model = create_model_for_input(name, 5, (1, 32, 32)).eval()
    assert model.stride == stride and model.coarsest == 8  # CIFAR stem at 32x32
    with torch.no_grad():
        assert model(torch.rand(2, 1, 32, 48)).shape == (2, 5, 32, 48)


def test_the_paper_strides_with_the_imagenet_stem():
    model = create_model_for_input("fcn8s", 3, (3, 64, 64), stem="imagenet").eval()
    assert (model.coarsest, model.stride) == (32, 8)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_a_vgg_backbone():
    model = create_model("fcn8s", num_classes=4, in_chans=3, backbone="vgg11_bn").eval()
    assert model.backbone.feature_info.reduction()[-3:] == [8, 16, 32]
    assert (model.coarsest, model.stride) == (32, 8)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 4, 64, 64)


def test_skips_start_at_zero_and_up_sampling_starts_bilinear():
    model = create_model_for_input("fcn8s", 3, (1, 32, 32))
    for score in model.score:
        assert not score.weight.any() and not score.bias.any()
    for up in model.up:
        for c in range(3):
            assert torch.equal(up.weight[c, c], bilinear_kernel(4))
        assert up.weight.sum() == 3 * bilinear_kernel(4).sum() and up.weight.requires_grad


def test_fcn8s_fuses_the_scores_as_fig_3():
    """out = bilinear(up(up(score_fr) + score_pool4) + score_pool3), recomputed with torch ops."""
    model = create_model_for_input("fcn8s", 3, (1, 32, 32)).eval()
    with torch.no_grad():
        for score in model.score:  # give the skips something to add
            score.weight.normal_()
            score.bias.normal_()
        x = torch.rand(2, 1, 32, 32)
        maps = model.backbone(x)
        coarse, pool4, pool3 = (maps[i] for i in model.stages)
        scores = model.head(coarse)
        for feature, score, up in zip((pool4, pool3), model.score, model.up, strict=True):
            upsampled = F.conv_transpose2d(scores, up.weight, stride=2, padding=1)
            scores = upsampled + F.conv2d(feature, score.weight, score.bias)
        expected = F.interpolate(scores, size=(32, 32), mode="bilinear", align_corners=False)
        torch.testing.assert_close(model(x), expected)


def test_a_side_that_is_not_a_multiple_of_the_coarsest_stride_is_a_geometry_error():
    model = create_model_for_input("fcn8s", 3, (1, 32, 32)).eval()
    with pytest.raises(GeometryError, match=r"multiples of 8; got 30x32.*32x32"):
        model(torch.rand(1, 1, 30, 32))


def test_a_backbone_without_stages_is_refused():
    with pytest.raises(ConfigError):
        create_model("fcn8s", num_classes=3, in_chans=1, backbone="highway_mlp")
