"""AlexNet (Krizhevsky et al. 2012), its torchvision variant and ZFNet (cnnlab.models.alexnet)."""

import pytest
import torch
from torch import nn

import cnnlab.models.alexnet  # noqa: F401  (registers the builders)
from cnnlab.cli import main
from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, layer_table
from cnnlab.models.alexnet import local_response_norm
from cnnlab.nn import fuse_conv_bn
from tests.models.zoo_checks import (
    assert_same_logits_as_torchvision,
    meta_model,
    meta_torchvision_model,
    parameter_count,
)

# The lecture's AlexNet table (227x227 input) with the paper's two-tower parameter counts.
LECTURE = {
    "features.conv1.conv": ((96, 55, 55), 96 * (11 * 11 * 3) + 96),
    "features.pool1": ((96, 27, 27), 0),
    "features.conv2.conv": ((256, 27, 27), 256 * (5 * 5 * 48) + 256),
    "features.pool2": ((256, 13, 13), 0),
    "features.conv3.conv": ((384, 13, 13), 384 * (3 * 3 * 256) + 384),
    "features.conv4.conv": ((384, 13, 13), 384 * (3 * 3 * 192) + 384),
    "features.conv5.conv": ((256, 13, 13), 256 * (3 * 3 * 192) + 256),
    "features.pool5": ((256, 6, 6), 0),
    "head.fc6": ((4096,), 4096 * 6 * 6 * 256 + 4096),
    "head.fc7": ((4096,), 4096 * 4096 + 4096),
    "head.fc8": ((1000,), 1000 * 4096 + 1000),
}

# Zeiler & Fergus (2014), Fig. 3.
ZFNET_SHAPES = {
    "features.conv1.conv": (96, 110, 110),
    "features.pool1": (96, 55, 55),
    "features.conv2.conv": (256, 26, 26),
    "features.pool2": (256, 13, 13),
    "features.conv3.conv": (384, 13, 13),
    "features.conv4.conv": (384, 13, 13),
    "features.conv5.conv": (256, 13, 13),
    "features.pool5": (256, 6, 6),
}


def test_original_alexnet_table_is_the_lecture_table():
    rows = layer_table(meta_model("alexnet_original"), (3, 227, 227))
    assert rows[0].output_shape == (3, 227, 227)
    assert {r.name: (r.output_shape, r.params) for r in rows[1:]} == LECTURE
    kernels = [r.kernel for r in rows if r.name.endswith(".conv") or "pool" in r.name]
    assert kernels[:2] == ["11x11/4", "3x3/2"]


def test_original_alexnet_has_the_papers_sixty_million_parameters():
    total = parameter_count(meta_model("alexnet_original"))
    assert total == sum(params for _, params in LECTURE.values()) == 60_965_224
    assert total == pytest.approx(60e6, rel=0.02)  # abstract and Sec. 4: "60 million parameters"


def test_summary_command_prints_the_lecture_table(capsys):
    assert (
        main(["summary", "alexnet_original", "--input", "3x227x227", "--num-classes", "1000"]) == 0
    )
    out = capsys.readouterr().out
    assert "96x55x55" in out and "96x27x27" in out and "256x6x6" in out
    assert "60,965,224" in out


def test_two_towers_are_grouped_convolutions_where_the_paper_splits_them():
    features = meta_model("alexnet_original").features
    groups = [getattr(features, f"conv{i}").conv.groups for i in range(1, 6)]
    assert groups == [1, 2, 1, 2, 2]  # conv3 and the dense layers see both GPUs (Sec. 3.2)


def test_lrn_follows_conv1_and_conv2_and_overlapping_pooling_follows_it():
    names = list(dict(meta_model("alexnet_original").features.named_children()))
    assert names == [
        *("conv1", "lrn1", "pool1", "conv2", "lrn2", "pool2"),
        *("conv3", "conv4", "conv5", "pool5"),
    ]
    pool = meta_model("alexnet_original").features.pool1
    assert (pool.kernel_size, pool.stride) == (3, 2)


def test_lrn_is_the_papers_formula_with_its_constants():
    torch.manual_seed(0)
    a = torch.randn(2, 12, 3, 3) * 30
    n, k, alpha, beta = 5, 2.0, 1e-4, 0.75
    expected = torch.empty_like(a)
    for i in range(a.shape[1]):
        window = a[:, max(0, i - n // 2) : min(a.shape[1], i + n // 2 + 1)]
        expected[:, i] = a[:, i] / (k + alpha * (window**2).sum(dim=1)) ** beta
    torch.testing.assert_close(local_response_norm()(a), expected)


def test_torchvision_alexnet_has_torchvisions_parameter_count():
    assert parameter_count(meta_model("alexnet")) == parameter_count(
        meta_torchvision_model("alexnet")
    )


def test_torchvision_alexnet_gives_the_same_logits(tmp_path):
    assert_same_logits_as_torchvision("alexnet", tmp_path, input_size=64)


def test_zfnet_has_the_shapes_of_figure_3():
    rows = {r.name: r for r in layer_table(meta_model("zfnet"), (3, 224, 224))}
    assert {name: rows[name].output_shape for name in ZFNET_SHAPES} == ZFNET_SHAPES
    assert rows["features.conv1.conv"].kernel == "7x7/2"
    assert rows["features.conv2.conv"].kernel == "5x5/2"
    assert rows["head.fc6"].params == 4096 * 6 * 6 * 256 + 4096


@pytest.mark.parametrize("name", ["alexnet_original", "alexnet", "zfnet"])
def test_cifar_form_trains_on_32x32_images(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=3, input_size=32)
    assert model.features.conv1.conv.kernel_size == (3, 3)
    assert not any(isinstance(m, nn.Linear) and m.in_features > 512 for m in model.modules())
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([1, 2])).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.slow
def test_original_alexnet_at_native_resolution():
    model = create_model("alexnet_original", num_classes=5, in_chans=3).eval()
    x = torch.rand(2, 3, 227, 227)
    with torch.no_grad():
        assert model(x).shape == (2, 5)
        torch.testing.assert_close(model.head(model.features(x)), model(x))


def test_other_input_sizes_pass_through_the_adaptive_pooling():
    model = meta_model("alexnet_original")
    assert model.head.fc6.in_features == 256 * 6 * 6
    for size in (224, 67):  # the paper's "224" and the smallest input
        assert model(torch.empty(1, 3, size, size, device="meta")).shape == (1, 1000)


@pytest.mark.parametrize(("name", "minimum"), [("alexnet", 63), ("alexnet_original", 67)])
def test_too_small_imagenet_input_names_the_minimum_size(name, minimum):
    with pytest.raises(GeometryError, match=f"at least {minimum}x{minimum}"):
        create_model(name, in_chans=3, stem="imagenet", input_size=32)


def test_too_small_input_at_first_forward_names_the_minimum_size():
    model = meta_model("alexnet")
    with pytest.raises(GeometryError, match="at least 63x63"):
        model(torch.empty(1, 3, 32, 32, device="meta"))


def test_single_channel_input_and_bad_options():
    model = meta_model("zfnet", in_chans=1, num_classes=7, input_size=32)
    assert model.features.conv1.conv.in_channels == 1
    assert model.head.fc.out_features == 7
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("alexnet", in_chans=0)
    with pytest.raises(ConfigError, match="stem"):
        create_model("alexnet", stem="mnist")


def test_fusing_a_network_without_batch_norm_changes_nothing():
    model = create_model("zfnet", in_chans=3, input_size=32).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fuse_conv_bn(model)(x), model(x), rtol=1e-5, atol=1e-6)
