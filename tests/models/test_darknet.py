"""Darknet-19, Darknet-53 and CSPDarknet53 (cnnlab.models.darknet)."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, darknet  # noqa: F401  (registers the family)
from cnnlab.models.darknet import CSPStage, DarknetResidual
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import meta_model, parameter_count

VARIANTS = ["darknet19", "darknet53", "cspdarknet53"]


def test_darknet19_has_19_conv_layers_and_5_max_pools():
    # YOLO9000, Table 6: 18 conv-BN-leaky layers and the 1x1 classifier convolution.
    model = meta_model("darknet19")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19 and convs[-1].out_channels == 1000 and convs[-1].bias is not None
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 5


def test_darknet53_has_53_layers_and_its_residual_blocks():
    # YOLOv3, Table 1: 52 convolutions + the connected layer; 1, 2, 8, 8, 4 residual blocks.
    model = meta_model("darknet53")
    assert sum(isinstance(m, nn.Conv2d | nn.Linear) for m in model.modules()) == 53
    blocks = [
        sum(isinstance(m, DarknetResidual) for m in stage.modules())
        for stage in list(model.features)[1:]
    ]
    assert blocks == [1, 2, 8, 8, 4]


def test_cspdarknet53_splits_each_stage_into_two_parts():
    model = meta_model("cspdarknet53")
    stages = [m for m in model.modules() if isinstance(m, CSPStage)]
    assert len(stages) == 5
    third = stages[2]
    assert third.bypass.conv.out_channels == third.main.conv.out_channels == 128
    assert third.merge.conv.in_channels == 256 and third.merge.conv.out_channels == 256


def test_every_layer_uses_leaky_relu_with_slope_0_1():
    acts = [m for m in meta_model("darknet53").modules() if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 52 and all(a.negative_slope == 0.1 for a in acts)
    mish = meta_model("cspdarknet53", act="mish")
    assert not any(isinstance(m, nn.LeakyReLU) for m in mish.modules())


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_trains_on_32x32_images_in_cifar_form(name):
    model = meta_model(name, num_classes=10, in_chans=1, input_size=32)
    with torch.device("meta"):
        x = torch.empty(2, 1, 32, 32)
        assert model.features(x).shape[-2:] == (4, 4)
        logits = model(x)
        logits.sum().backward()
    assert logits.shape == (2, 10)
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_reaches_7x7_at_224(name):
    model = meta_model(name)
    with torch.device("meta"):
        assert model.features(torch.empty(1, 3, 224, 224)).shape[-2:] == (7, 7)
        assert model(torch.empty(1, 3, 224, 224)).shape == (1, 1000)


@pytest.fixture(scope="module")
def darknet19_cifar() -> nn.Module:
    torch.manual_seed(0)
    return create_model("darknet19", num_classes=10, in_chans=3, stem="cifar")


def test_darknet19_forward_and_backward_on_small_images(darknet19_cifar):
    model = darknet19_cifar.train()
    logits = model(torch.rand(2, 3, 16, 16))
    nn.functional.cross_entropy(logits, torch.tensor([3, 4])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_native_resolution_forward(name):
    model = create_model(name, num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_fused_darknet19_gives_the_same_outputs_without_batch_norm(darknet19_cifar):
    model = randomize_batch_norm(darknet19_cifar)
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 16, 16))
    assert batch_norm_count(fused) == 0
    assert parameter_count(fused) < parameter_count(model)


def test_too_small_input_is_a_geometry_error_naming_the_minimum():
    with pytest.raises(GeometryError, match="at least 32x32"):
        meta_model("darknet53", input_size=16, stem="imagenet")
    with pytest.raises(GeometryError, match="at least 8x8"):
        meta_model("darknet19", input_size=4)
    model = meta_model("cspdarknet53", stem="cifar")
    with pytest.raises(GeometryError, match="at least 8x8"), torch.device("meta"):
        model(torch.empty(1, 3, 4, 4))


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("darknet19", in_chans=0)
    with pytest.raises(ConfigError, match="activation"):
        create_model("darknet53", act="leaky")
