"""Depthwise-separable and inverted residual blocks (cnnlab.nn.mbconv)."""

import pytest
import torch
from torch import nn
from torchvision.models.efficientnet import MBConv, MBConvConfig
from torchvision.models.mnasnet import _InvertedResidual as MnasBlock
from torchvision.models.mobilenetv2 import InvertedResidual as V2Block
from torchvision.models.mobilenetv3 import InvertedResidual as V3Block
from torchvision.models.mobilenetv3 import InvertedResidualConfig

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.models.weights import rename_keys
from cnnlab.nn import SqueezeExcite
from cnnlab.nn.mbconv import (
    DepthwiseSeparable,
    InvertedResidual,
    init_mobile_weights,
    prefix_rules,
    set_batch_norm,
)
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def load_from(ours: nn.Module, theirs: nn.Module, layout: str) -> None:
    """Copy a torchvision block into ours through ``torchvision_names``."""
    rules = prefix_rules(ours.torchvision_names(layout).items())
    ours.load_state_dict(rename_keys(theirs.state_dict(), rules))


def test_depthwise_separable_has_the_weights_of_howard_et_al():
    # depthwise D_K²·M + pointwise M·N weights, plus γ and β of two batch norms
    block = DepthwiseSeparable(32, 64)
    assert n_params(block) == 9 * 32 + 32 * 64 + 2 * 32 + 2 * 64
    assert block.dw.conv.groups == 32 and block.pw.conv.kernel_size == (1, 1)
    assert isinstance(block.pw.act, nn.ReLU)


def test_depthwise_separable_costs_one_over_n_plus_one_over_k2_of_a_full_conv():
    # Howard et al. (2017), eq. 5: the ratio of multiply-adds
    m, n, k = 64, 128, 3
    separable = 9 * m + m * n
    full = k * k * m * n
    assert separable / full == pytest.approx(1 / n + 1 / k**2)
    block = DepthwiseSeparable(m, n)
    conv_weights = block.dw.conv.weight.numel() + block.pw.conv.weight.numel()
    assert conv_weights == separable


def test_linear_pointwise_option_drops_the_last_activation():
    block = DepthwiseSeparable(32, 16, pointwise_act=None)
    assert not hasattr(block.pw, "act")


def test_inverted_residual_expands_filters_depthwise_and_projects_linearly():
    block = InvertedResidual(24, 24, 144, kernel=5)
    assert block.expand.conv.out_channels == 144
    assert block.dw.conv.groups == 144 and block.dw.conv.kernel_size == (5, 5)
    assert block.project.conv.out_channels == 24
    assert not hasattr(block.project, "act")  # linear bottleneck (Sandler et al., Sec. 3.2)


def test_shortcut_only_between_bottlenecks_of_equal_shape():
    assert InvertedResidual(24, 24, 144).has_shortcut
    assert not InvertedResidual(24, 24, 144, stride=2).has_shortcut
    assert not InvertedResidual(16, 24, 96).has_shortcut


def test_no_expansion_layer_when_the_expanded_width_is_the_input_width():
    block = InvertedResidual(32, 16, 32)
    assert block.expand is None
    assert block(torch.rand(2, 32, 8, 8)).shape == (2, 16, 8, 8)


def test_stride_other_than_one_or_two_is_refused():
    with pytest.raises(ConfigError, match="stride 1 or 2"):
        InvertedResidual(8, 8, 16, stride=3)


def test_block_equals_torchvision_mobilenet_v2_block():
    torch.manual_seed(0)
    for inp, out, stride, t in [(32, 16, 1, 1), (24, 24, 1, 6), (24, 32, 2, 6)]:
        theirs = V2Block(inp, out, stride, t).eval()
        randomize_batch_norm(theirs)
        ours = InvertedResidual(inp, out, inp * t, 3, stride, "relu6").eval()
        load_from(ours, theirs, "mobilenet_v2")
        x = torch.randn(2, inp, 8, 8)
        torch.testing.assert_close(ours(x), theirs(x))


def test_block_with_hard_swish_and_se_equals_torchvision_mobilenet_v3_block():
    torch.manual_seed(0)
    config = InvertedResidualConfig(40, 5, 120, 40, True, "HS", 1, 1, 1.0)
    theirs = V3Block(config, nn.BatchNorm2d).eval()
    randomize_batch_norm(theirs)
    se = SqueezeExcite(120, 32, "relu", "hard_sigmoid")
    ours = InvertedResidual(40, 40, 120, 5, 1, "hard_swish", se).eval()
    load_from(ours, theirs, "sequential")
    x = torch.randn(2, 40, 8, 8)
    torch.testing.assert_close(ours(x), theirs(x))


def test_block_with_swish_and_se_equals_torchvision_efficientnet_mbconv():
    torch.manual_seed(0)
    config = MBConvConfig(6, 3, 1, 24, 24, 1)
    theirs = MBConv(config, 0.0, nn.BatchNorm2d).eval()
    randomize_batch_norm(theirs)
    ours = InvertedResidual(24, 24, 144, 3, 1, "silu", SqueezeExcite(144, 6, "silu")).eval()
    load_from(ours, theirs, "sequential")
    x = torch.randn(2, 24, 8, 8)
    torch.testing.assert_close(ours(x), theirs(x))


def test_block_equals_torchvision_mnasnet_block():
    torch.manual_seed(0)
    theirs = MnasBlock(24, 40, 5, 2, 3).eval()
    randomize_batch_norm(theirs)
    ours = InvertedResidual(24, 40, 72, 5, 2, "relu").eval()
    load_from(ours, theirs, "flat")
    x = torch.randn(2, 24, 8, 8)
    torch.testing.assert_close(ours(x), theirs(x))


def test_unknown_torchvision_layout_is_refused():
    with pytest.raises(UnknownNameError, match="flat, mobilenet_v2, sequential"):
        InvertedResidual(8, 8, 16).torchvision_names("resnet")


def test_stochastic_depth_drops_whole_residual_branches_in_training_only():
    torch.manual_seed(0)
    block = InvertedResidual(8, 8, 16, drop_path=0.5)
    x = torch.randn(64, 8, 4, 4)
    with torch.no_grad():
        block.eval()
        branch = block.project(block.dw(block.expand(x)))
        torch.testing.assert_close(block(x), x + branch)
        out = block.train()(x)
    kept = ((out - x).flatten(1).abs().sum(1) > 0).float()
    assert 0.2 < kept.mean() < 0.8  # about half of the samples skip the block
    assert torch.equal(out[kept == 0], x[kept == 0])


def test_blocks_without_shortcut_have_no_stochastic_depth():
    assert InvertedResidual(8, 16, 16, drop_path=0.2).drop_path is None


def test_fused_block_gives_the_same_outputs():
    torch.manual_seed(0)
    block = randomize_batch_norm(InvertedResidual(16, 16, 64, se=SqueezeExcite(64, 4)))
    fused = assert_fusion_keeps_outputs(block, torch.randn(2, 16, 8, 8), atol=1e-5)
    assert batch_norm_count(fused) == 0


def test_set_batch_norm_gives_every_batch_norm_the_tensorflow_settings():
    block = set_batch_norm(InvertedResidual(8, 8, 16), eps=1e-3, momentum=0.01)
    norms = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 3 and all(m.eps == 1e-3 and m.momentum == 0.01 for m in norms)


def test_reference_initialisation():
    torch.manual_seed(0)
    model = nn.Sequential(InvertedResidual(8, 8, 16), nn.Flatten(), nn.Linear(8 * 16, 1000))
    init_mobile_weights(model)
    assert torch.equal(model[0].dw.bn.weight, torch.ones(16))
    assert model[2].weight.std().item() == pytest.approx(0.01, rel=0.1)
    assert torch.equal(model[2].bias, torch.zeros(1000))
    init_mobile_weights(model, linear="uniform")
    assert model[2].weight.abs().max() <= 1000**-0.5
    with pytest.raises(UnknownNameError):
        init_mobile_weights(model, linear="xavier")


def test_prefix_rules_rewrite_only_whole_prefixes():
    rules = prefix_rules([("features.1.conv.0", "features.stage1.0.dw")])
    renamed = rename_keys(
        {"features.1.conv.0.weight": torch.zeros(1), "features.11.conv.0.weight": torch.zeros(1)},
        rules,
    )
    assert set(renamed) == {"features.stage1.0.dw.weight", "features.11.conv.0.weight"}
