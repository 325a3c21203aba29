"""NASNet-A (cnnlab.models.nasnet), Zoph et al. (2018)."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, nasnet  # noqa: F401  (registers the family)
from cnnlab.models.nasnet import NASNet
from cnnlab.models.nasnet_genotype import NASNET_A
from cnnlab.nn.drop import DropPath
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import meta_model, multiply_adds, parameter_count

VARIANTS = ["nasnet_a_cifar", "nasnet_a_mobile", "nasnet_a_large"]


@pytest.mark.parametrize(
    ("name", "cells", "penultimate"),
    [("nasnet_a_cifar", 18, 768), ("nasnet_a_mobile", 12, 1056), ("nasnet_a_large", 18, 4032)],
)
def test_n_at_f_names_the_normal_cells_and_the_penultimate_width(name, cells, penultimate):
    model = meta_model(name)
    all_cells = list(model.features.cells)
    assert sum(not c.reduction for c in all_cells) == cells
    assert model.head.fc.in_features == penultimate


def test_mobile_has_two_stem_reduction_cells_with_a_quarter_and_half_the_filters():
    cells = list(meta_model("nasnet_a_mobile").features.cells)
    assert [c.reduction for c in cells[:3]] == [True, True, False]
    assert [c.out_ch for c in cells[:2]] == [4 * 11, 4 * 22]


def test_mobile_cost_matches_table_2():
    model = meta_model("nasnet_a_mobile")
    assert parameter_count(model) == pytest.approx(5.3e6, rel=0.01)
    assert multiply_adds(model, (3, 224, 224)) == pytest.approx(564e6, rel=0.01)


@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_trains_on_32x32_images(name):
    model = meta_model(name, num_classes=10, in_chans=1, input_size=32)
    with torch.device("meta"):
        logits = model(torch.empty(2, 1, 32, 32))
        logits.sum().backward()
    assert logits.shape == (2, 10)
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "size", "final"), [("nasnet_a_mobile", 224, 7), ("nasnet_a_large", 331, 11)]
)
def test_native_resolution_ends_at_the_papers_map_size(name, size, final):
    model = meta_model(name)
    with torch.device("meta"):
        assert model.features(torch.empty(1, 3, size, size)).shape[-2:] == (final, final)


def small_nasnet(**kwargs) -> NASNet:
    """NASNet-A cells in a network of one normal cell per stack and 8 filters."""
    torch.manual_seed(0)
    return NASNet(NASNET_A, num_classes=10, in_chans=1, cells=1, filters=8, **kwargs)


def test_forward_and_backward_reach_every_parameter():
    model = small_nasnet(drop_path=0.1)
    assert any(isinstance(m, DropPath) for m in model.modules())
    logits = model(torch.rand(2, 1, 16, 16))
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_fuse_conv_bn_gives_the_same_outputs():
    model = randomize_batch_norm(small_nasnet())
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 1, 16, 16))
    assert batch_norm_count(fused) < batch_norm_count(model)


def test_too_small_input_is_a_geometry_error_naming_the_minimum():
    with pytest.raises(GeometryError, match="at least 32x32"):
        meta_model("nasnet_a_mobile", input_size=16, stem="imagenet")
    with pytest.raises(GeometryError, match="at least 8x8"):
        meta_model("nasnet_a_cifar", input_size=4)
    with pytest.raises(GeometryError, match="at least 8x8"):
        small_nasnet()(torch.rand(1, 1, 4, 4))


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("nasnet_a_mobile", in_chans=0)
    with pytest.raises(ConfigError, match="cells"):
        NASNet(cells=0)
