"""ResNet, ResNeXt, Wide ResNet, SE-/CBAM-ResNet and SENet-154 (cnnlab.models.resnet)."""

import pytest
import torch
import torchvision
from torch import nn

from cnnlab.errors import ConfigError, GeometryError, UnknownNameError
from cnnlab.models import create_model, feature_extractor, model_info
from cnnlab.models.resnet import CONFIGS
from cnnlab.models.weights import rename_keys
from cnnlab.nn.attention import CBAM, SqueezeExcite
from cnnlab.nn.drop import DropPath
from cnnlab.nn.fuse import fuse_conv_bn
from tests.batchnorm_helpers import randomize_batch_norm
from tests.models.zoo_checks import (
    assert_same_logits_as_torchvision,
    meta_model,
    multiply_adds,
    parameter_count,
)

FAMILY = list(CONFIGS)
PARITY = ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2"]
PARITY_SLOW = [
    "resnet34",
    "resnet101",
    "resnet152",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet101_2",
]


@pytest.mark.parametrize("name", PARITY)
def test_same_logits_as_torchvision(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


@pytest.mark.slow
@pytest.mark.parametrize("name", PARITY_SLOW)
def test_same_logits_as_torchvision_for_the_large_variants(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


def test_every_torchvision_variant_is_checked_for_parity():
    with_torchvision = {n for n in FAMILY if model_info(n).torchvision}
    assert with_torchvision == set(PARITY + PARITY_SLOW)


def test_torchvision_weights_load_for_other_classes_and_channels(tmp_path):
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pth")
    with pytest.warns(UserWarning, match="re-initialised"):
        model = create_model("resnet18", num_classes=10, in_chans=1, weights=tmp_path / "r18.pth")
    assert model.features.stem.conv.in_channels == 1
    assert model.eval()(torch.rand(2, 1, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name", FAMILY)
def test_every_variant_takes_num_classes_and_in_chans(name):
    model = meta_model(name, num_classes=7, in_chans=1)
    assert model.head.fc.out_features == 7
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == 1


def test_resnext_and_wide_resnet_are_resnet50_with_other_width_and_groups():
    resnet50 = model_info("resnet50")
    for name, knobs in [
        ("resnext50_32x4d", {"groups": 32, "width_per_group": 4}),
        ("wide_resnet50_2", {"width_per_group": 128}),
        ("se_resnext50_32x4d", {"groups": 32, "width_per_group": 4, "attention": "se"}),
    ]:
        knobbed = meta_model("resnet50", **knobs)
        assert parameter_count(knobbed) == parameter_count(meta_model(name)), name
    assert resnet50.kwargs == {"num_classes": 1000, "in_chans": 3}


@pytest.mark.parametrize(
    ("name", "gmacs"), [("resnet50", 3.8), ("resnet101", 7.6), ("resnet152", 11.3)]
)
def test_paper_bottleneck_has_the_multiply_adds_of_table_1(name, gmacs):
    # He et al. 2016, Table 1: the original bottleneck subsamples in its first 1x1 conv.
    model = meta_model(name, stride_in_1x1=True)
    assert multiply_adds(model, (3, 224, 224)) == pytest.approx(gmacs * 1e9, rel=0.02)


def test_squeeze_excitation_adds_about_ten_percent_to_resnet50():
    # Hu et al. 2018, Sec. 4: ~2.5M parameters beyond ResNet-50's ~25M (~10 %).
    extra = parameter_count(meta_model("se_resnet50")) - parameter_count(meta_model("resnet50"))
    assert extra == pytest.approx(2.5e6, rel=0.02)


def test_attention_modules_sit_in_every_unit():
    se, cbam = meta_model("se_resnet50"), meta_model("cbam_resnet50")
    assert sum(isinstance(m, SqueezeExcite) for m in se.modules()) == 16
    assert sum(isinstance(m, CBAM) for m in cbam.modules()) == 16


def test_senet154_follows_the_appendix():
    model = meta_model("senet154")
    stem = model.features.stem
    assert [stem[i].conv.kernel_size for i in range(3)] == [(3, 3)] * 3
    unit = model.features.layer2[0]
    assert unit.branch.conv1.conv.out_channels * 2 == unit.branch.conv2.conv.out_channels
    assert unit.branch.conv2.conv.groups == 64
    assert unit.shortcut.conv.kernel_size == (3, 3) and unit.shortcut.conv.stride == (2, 2)
    assert model.features.layer1[0].shortcut.conv.kernel_size == (1, 1)
    assert model.head.drop.p == 0.2
    assert [len(getattr(model.features, f"layer{i}")) for i in range(1, 5)] == [3, 8, 36, 3]
    cifar = meta_model("senet154", input_size=32).features
    assert cifar.stem.conv.kernel_size == (3, 3) and cifar.stem.conv.out_channels == 128
    assert not hasattr(cifar, "pool")


def test_resnet18_forward_at_native_resolution():
    model = create_model("resnet18", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 224, 224)).shape == (2, 1000)


def test_cifar_stem_is_chosen_for_small_inputs():
    model = create_model("resnet18", input_size=32)
    stem = model.features.stem.conv
    assert (stem.kernel_size, stem.stride) == ((3, 3), (1, 1))
    assert not hasattr(model.features, "pool")
    assert create_model("resnet18", input_size=224).features.stem.conv.kernel_size == (7, 7)
    forced = create_model("resnet18", input_size=224, stem="cifar")
    assert forced.features.stem.conv.kernel_size == (3, 3)


def test_cifar_form_forward_and_backward_keeps_resolution_until_layer2():
    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=10, in_chans=3, stem="cifar")
    x, y = torch.rand(2, 3, 32, 32), torch.tensor([1, 2])
    features = feature_extractor(model, ["features.layer1", "features.layer4"])(x)
    assert features["features.layer1"].shape == (2, 64, 32, 32)
    assert features["features.layer4"].shape == (2, 512, 4, 4)
    nn.functional.cross_entropy(model(x), y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_se_resnext_forward_and_backward():
    model = create_model("se_resnext50_32x4d", num_classes=10, in_chans=3, depths=(1, 1, 1, 1))
    model(torch.rand(2, 3, 32, 32)).sum().backward()
    assert model.features.layer4[0].branch.attention.fc1.weight.grad is not None


def test_fuse_conv_bn_folds_every_batch_norm_with_the_same_outputs():
    # One bottleneck per stage: every kind of conv+BN pair, including the projections.
    model = create_model("resnet50", num_classes=10, in_chans=3, depths=(1, 1, 1, 1))
    model = randomize_batch_norm(model)
    fused = fuse_conv_bn(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert len(list(fused.modules())) < len(list(model.modules()))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = model(x), fused(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * expected.abs().max().item())


def test_drop_path_rises_linearly_to_the_last_unit():
    model = create_model("resnet50", drop_path=0.3)
    units = [u for i in range(1, 5) for u in getattr(model.features, f"layer{i}")]
    rates = [u.branch.drop_path.drop_prob if hasattr(u.branch, "drop_path") else 0 for u in units]
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.3)
    assert rates == sorted(rates)
    assert sum(isinstance(m, DropPath) for m in model.modules()) == 15


def test_pre_activation_variant_of_an_imagenet_resnet():
    model = create_model("resnet18", num_classes=10, in_chans=1, block="preact_basic")
    assert isinstance(model.features.stem, nn.Conv2d)
    assert isinstance(model.features.norm.bn, nn.BatchNorm2d)
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 10)


def test_preact_resnet200_has_16_more_units_than_resnet152_at_28x28():
    # He et al. 2016b, Sec. 5: ResNet-200 "has 16 more 3-layer bottleneck Residual Units
    # than ResNet-152, which are added on the feature map of 28x28".
    def units(model):
        return [len(getattr(model.features, f"layer{i}")) for i in range(1, 5)]

    resnet152, resnet200 = meta_model("preact_resnet152"), meta_model("preact_resnet200")
    assert units(resnet152) == [3, 8, 36, 3]
    assert units(resnet200) == [3, 24, 36, 3]
    with torch.device("meta"):
        maps = feature_extractor(resnet200, ["features.layer2"])(torch.empty(1, 3, 224, 224))
    assert maps["features.layer2"].shape == (1, 512, 28, 28)


@pytest.mark.parametrize(
    ("name", "post_activation"),
    [("preact_resnet152", {}), ("preact_resnet200", {"depths": (3, 24, 36, 3)})],
)
def test_pre_activation_networks_differ_from_resnet_only_in_batch_norms(name, post_activation):
    def weights(model):
        layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        return [tuple(m.weight.shape) for m in layers]

    preact, resnet = meta_model(name), meta_model("resnet152", **post_activation)
    assert all(u.preactivation for i in range(1, 5) for u in getattr(preact.features, f"layer{i}"))
    assert weights(preact) == weights(resnet)
    assert parameter_count(preact) == pytest.approx(parameter_count(resnet), rel=2e-4)


@pytest.mark.parametrize("name", ["preact_resnet152", "preact_resnet200"])
def test_imagenet_pre_activation_networks_forward_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=3)
    x, y = torch.rand(2, 3, 32, 32), torch.tensor([1, 2])
    logits = model(x)
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, y).backward()
    for param_name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), param_name


def _zero_weights(state: dict) -> set[str]:
    return {key for key, tensor in state.items() if key.endswith("weight") and not tensor.any()}


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_zero_init_residual_zeroes_the_batch_norms_torchvision_zeroes(name):
    ours = create_model(name, zero_init_residual=True)
    reference = getattr(torchvision.models, name)(zero_init_residual=True).state_dict()
    expected = rename_keys(
        {key: reference[key] for key in _zero_weights(reference)}, ours.torchvision_keys
    )
    assert _zero_weights(ours.state_dict()) == set(expected)
    assert len(expected) == sum(ours.config.depths)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"in_chans": 0}, ConfigError, "in_chans"),
        ({"depth": 50}, ConfigError, "Unknown residual-network option"),
        ({"stem": "tiny"}, UnknownNameError, "stem"),
        ({"block": "dense"}, UnknownNameError, "residual block"),
        ({"groups": 32}, ConfigError, "Basic blocks"),
        ({"depths": (2, 2), "widths": (64,)}, ConfigError, "depths and widths"),
        ({"input_size": 0}, GeometryError, "at least 1 pixel"),
        ({"zero_init_residual": True, "shortcut": "none"}, ConfigError, "needs shortcuts"),
    ],
)
def test_bad_options_name_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        create_model("resnet18", **kwargs)
