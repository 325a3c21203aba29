"""MnasNet (cnnlab.models.mnasnet), Tan et al. (2019): the paper's A1 and the B1 of torchvision."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, mnasnet  # noqa: F401  (registers the builders)
from cnnlab.models.mnasnet import MNASNET_A1, MNASNET_B1, MNASNET_BN_MOMENTUM
from cnnlab.nn import SqueezeExcite
from cnnlab.nn.mbconv import DepthwiseSeparable, InvertedResidual
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import assert_same_logits_as_torchvision

MNASNETS = ["mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]


@pytest.mark.parametrize(
    "name",
    [
        "mnasnet0_5",
        pytest.param("mnasnet0_75", marks=pytest.mark.slow),
        pytest.param("mnasnet1_0", marks=pytest.mark.slow),
        pytest.param("mnasnet1_3", marks=pytest.mark.slow),
    ],
)
def test_same_logits_as_torchvision(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


def test_mnasnet_follows_the_stage_table():
    model = create_model("mnasnet1_0", num_classes=1000, in_chans=3)
    assert isinstance(model.features.stage1, DepthwiseSeparable)
    assert not hasattr(model.features.stage1.pw, "act")  # SepConv with a linear pointwise conv
    for i, stage in enumerate(MNASNET_B1.stages, start=2):
        blocks = getattr(model.features, f"stage{i}")
        assert len(blocks) == stage.repeats
        first = blocks[0]
        assert isinstance(first, InvertedResidual) and first.se is None
        assert first.dw.conv.kernel_size == (stage.kernel, stage.kernel)
        assert first.dw.conv.stride == (stage.stride, stage.stride)
        assert first.expand.conv.out_channels == stage.expansion * first.expand.conv.in_channels
    assert model.head.fc.in_features == 1280
    assert all(
        m.momentum == MNASNET_BN_MOMENTUM for m in model.modules() if isinstance(m, nn.BatchNorm2d)
    )


def test_a1_follows_fig_7():
    # Fig. 7(a) and the authors' mnasnet_models.py: SepConv 16, MBConv6 k3 x2 24,
    # MBConv3 k5 SE x3 40, MBConv6 k3 x4 80, MBConv6 k3 SE x2 112, MBConv6 k5 SE x3 160,
    # MBConv6 k3 x1 320.
    model = create_model("mnasnet_a1", num_classes=1000, in_chans=3)
    assert model.features.stem.conv.out_channels == 32
    assert model.features.stage1.pw.conv.out_channels == 16
    rows = []
    for i in range(2, 8):
        blocks = getattr(model.features, f"stage{i}")
        first = blocks[0]
        rows.append(
            (
                first.expand.conv.out_channels // first.expand.conv.in_channels,
                first.dw.conv.kernel_size[0],
                first.dw.conv.stride[0],
                len(blocks),
                first.project.conv.out_channels,
                first.se is not None,
            )
        )
    assert rows == [
        (6, 3, 2, 2, 24, False),
        (3, 5, 2, 3, 40, True),
        (6, 3, 2, 4, 80, False),
        (6, 3, 1, 2, 112, True),
        (6, 5, 2, 3, 160, True),
        (6, 3, 1, 1, 320, False),
    ]
    assert model.head.fc.in_features == 1280


def test_a1_squeezes_to_a_quarter_of_each_blocks_input_width():
    model = create_model("mnasnet_a1", num_classes=1000, in_chans=3)
    blocks = [b for b in model.modules() if isinstance(b, InvertedResidual) and b.se is not None]
    assert len(blocks) == sum(s.repeats for s in MNASNET_A1.stages if s.se) == 8
    for block in blocks:
        assert isinstance(block.se, SqueezeExcite)
        width = block.expand.conv.in_channels
        assert block.se.fc1.out_channels == width // 4
        assert block.se.fc1.in_channels == block.dw.conv.out_channels


def test_only_the_b1_plan_maps_torchvision_names():
    assert create_model("mnasnet1_0").torchvision_keys
    assert create_model("mnasnet_a1").torchvision_keys == ()


def test_depth_multiplier_scales_widths_in_multiples_of_eight():
    model = create_model("mnasnet0_5", in_chans=3)
    widths = [model.features.stem.conv.out_channels, model.features.stage1.pw.conv.out_channels]
    widths += [
        getattr(model.features, f"stage{i}")[0].project.conv.out_channels for i in range(2, 8)
    ]
    assert widths == [16, 8, 16, 24, 40, 48, 96, 160]


@pytest.mark.parametrize(
    "name",
    ["mnasnet0_5", "mnasnet_a1"] + [pytest.param(n, marks=pytest.mark.slow) for n in MNASNETS[1:]],
)
def test_cifar_form_forward_and_backward_at_32x32(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=3, input_size=32)
    assert model.features.stem.conv.stride == (1, 1)
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_native_resolution_forward():
    model = create_model("mnasnet0_5", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 224, 224)).shape == (2, 1000)


def test_fused_model_gives_the_same_outputs():
    torch.manual_seed(0)
    model = randomize_batch_norm(create_model("mnasnet0_5", in_chans=3, input_size=32))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32))
    assert batch_norm_count(fused) == 0


def test_bad_sizes_and_options_are_refused():
    with pytest.raises(GeometryError, match="at least 16x16"):
        create_model("mnasnet1_0", input_size=12)
    with pytest.raises(GeometryError, match="at least 32x32 pixels, got 20x20"):
        create_model("mnasnet1_0", in_chans=3)(torch.rand(1, 3, 20, 20))
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("mnasnet1_0", in_chans=0)
    with pytest.raises(ConfigError, match="Bad options"):
        create_model("mnasnet1_0", alpha=2.0)
