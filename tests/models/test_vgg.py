"""VGG configurations A-E (Simonyan & Zisserman 2015), cnnlab.models.vgg."""

import math

import pytest
import torch
from torch import nn

import cnnlab.models.vgg  # noqa: F401  (registers the builders)
from cnnlab.cli import main
from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, feature_extractor, layer_table
from cnnlab.models.vgg import VGG
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import (
    assert_same_logits_as_torchvision,
    meta_model,
    meta_torchvision_model,
    parameter_count,
)

# Table 2: parameters in millions; Table 1: weight layers.
TABLE_2 = {"vgg11": 133, "vgg11_lrn": 133, "vgg13": 133, "vgg16_c": 134, "vgg16": 138, "vgg19": 144}
WEIGHT_LAYERS = {"vgg11": 11, "vgg11_lrn": 11, "vgg13": 13, "vgg16_c": 16, "vgg16": 16, "vgg19": 19}
TORCHVISION = ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]

# VGG-16 at 224x224: (output shape, parameters) per conv of a block, then fc6-fc8.
VGG16 = {
    "features.conv1_1.conv": ((64, 224, 224), 1_792),
    "features.conv1_2.conv": ((64, 224, 224), 36_928),
    "features.conv2_1.conv": ((128, 112, 112), 73_856),
    "features.conv2_2.conv": ((128, 112, 112), 147_584),
    "features.conv3_1.conv": ((256, 56, 56), 295_168),
    "features.conv3_2.conv": ((256, 56, 56), 590_080),
    "features.conv3_3.conv": ((256, 56, 56), 590_080),
    "features.conv4_1.conv": ((512, 28, 28), 1_180_160),
    "features.conv4_2.conv": ((512, 28, 28), 2_359_808),
    "features.conv4_3.conv": ((512, 28, 28), 2_359_808),
    "features.conv5_1.conv": ((512, 14, 14), 2_359_808),
    "features.conv5_2.conv": ((512, 14, 14), 2_359_808),
    "features.conv5_3.conv": ((512, 14, 14), 2_359_808),
    "features.pool5": ((512, 7, 7), 0),
    "head.fc6": ((4096,), 102_764_544),
    "head.fc7": ((4096,), 16_781_312),
    "head.fc8": ((1000,), 4_097_000),
}


@pytest.mark.parametrize("name", list(TABLE_2))
def test_parameter_count_is_table_2_of_the_paper(name):
    assert parameter_count(meta_model(name)) == pytest.approx(TABLE_2[name] * 1e6, rel=0.005)


@pytest.mark.parametrize("name", list(WEIGHT_LAYERS))
def test_weight_layers_are_those_of_table_1(name):
    model = meta_model(name)
    weights = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weights) == WEIGHT_LAYERS[name]
    assert all(m.kernel_size == (3, 3) for m in weights if isinstance(m, nn.Conv2d)) == (
        name != "vgg16_c"
    )


def test_configuration_c_ends_blocks_3_to_5_with_1x1_convolutions():
    features = meta_model("vgg16_c").features
    assert [features.get_submodule(f"conv{b}_3").conv.kernel_size for b in (3, 4, 5)] == [
        (1, 1)
    ] * 3


def test_a_lrn_normalizes_after_the_first_convolution():
    names = [n for n, _ in meta_model("vgg11_lrn").features.named_children()]
    assert names[:3] == ["conv1_1", "lrn1", "pool1"]
    assert isinstance(meta_model("vgg11_lrn").features.lrn1, nn.LocalResponseNorm)


def test_vgg16_table_has_138_million_parameters_and_the_lecture_shapes():
    rows = {r.name: r for r in layer_table(meta_model("vgg16"), (3, 224, 224))}
    assert {name: (rows[name].output_shape, rows[name].params) for name in VGG16} == VGG16
    assert sum(r.params for r in rows.values()) == 138_357_544
    # activations of each block's first convolution: 3.2M, 1.6M, 802K, 401K, 100K
    memory = [math.prod(rows[f"features.conv{b}_1.conv"].output_shape) for b in range(1, 6)]
    assert memory == [3_211_264, 1_605_632, 802_816, 401_408, 100_352]


@pytest.mark.parametrize("name", TORCHVISION)
def test_parameter_count_equals_torchvision(name):
    assert parameter_count(meta_model(name)) == parameter_count(meta_torchvision_model(name))


def test_vgg11_bn_gives_the_same_logits_as_torchvision(tmp_path):
    assert_same_logits_as_torchvision("vgg11_bn", tmp_path, input_size=32)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in TORCHVISION if n != "vgg11_bn"])
def test_every_torchvision_vgg_gives_the_same_logits(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


CIFAR_DEFAULT = ["vgg11_lrn", "vgg16_c_bn"]  # LRN, 1x1 convolutions and batch norm
CIFAR_SLOW = [
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16_c",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]


@pytest.mark.parametrize(
    "name", CIFAR_DEFAULT + [pytest.param(n, marks=pytest.mark.slow) for n in CIFAR_SLOW]
)
def test_cifar_form_trains_on_32x32_images(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=3, input_size=32)
    assert [type(m).__name__ for m in model.head] == ["GlobalAvgPool2d", "Dropout", "Linear"]
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([0, 9])).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.slow
def test_vgg16_at_native_resolution():
    model = create_model("vgg16", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_fused_batch_norm_gives_the_same_outputs():
    torch.manual_seed(0)
    model = randomize_batch_norm(create_model("vgg11_bn", in_chans=3, input_size=32))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32))
    assert batch_norm_count(fused) == 0


def test_features_by_layer_name():
    model = create_model("vgg11", in_chans=3, input_size=32).eval()
    with torch.no_grad():
        maps = feature_extractor(model, ["features.conv4_2", "features.conv5_2"])(
            torch.rand(1, 3, 32, 32)
        )
    assert maps["features.conv4_2"].shape == (1, 512, 4, 4)
    assert maps["features.conv5_2"].shape == (1, 512, 2, 2)


def test_too_small_inputs_name_the_minimum_size():
    with pytest.raises(GeometryError, match="at least 32x32"):
        create_model("vgg16", in_chans=3, input_size=16)
    with pytest.raises(GeometryError, match="at least 32x32"):
        meta_model("vgg16")(torch.empty(1, 3, 16, 16, device="meta"))


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("vgg11", in_chans=0)
    with pytest.raises(ConfigError, match="A, A-LRN, B, C, D, E"):
        VGG("F")


@pytest.mark.slow
def test_summary_command_shows_138_million_parameters(capsys):
    assert main(["summary", "vgg16", "--input", "3x224x224", "--num-classes", "1000"]) == 0
    out = capsys.readouterr().out
    assert "64x224x224" in out and "512x7x7" in out and "138,357,544" in out
