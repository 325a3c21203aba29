"""EfficientNet B0-B7 and compound scaling (cnnlab.models.efficientnet), Tan & Le (2019)."""

import dataclasses
import math

import pytest
import torch
import torchvision
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, efficientnet
from cnnlab.models.efficientnet import (
    B0_STAGES,
    EFFICIENTNET_VARIANTS,
    MBConvStage,
    compound_scale,
    scale_stages,
)
from cnnlab.nn import DropPath
from cnnlab.nn.mbconv import InvertedResidual
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import (
    assert_same_logits_as_torchvision,
    meta_model,
    multiply_adds,
    parameter_count,
)

VARIANTS = [f"efficientnet_b{i}" for i in range(8)]


def phi_model(phi: float) -> nn.Module:
    return meta_model("efficientnet", phi=phi, num_classes=1000, in_chans=3)


@pytest.mark.parametrize(
    "name",
    ["efficientnet_b0"] + [pytest.param(n, marks=pytest.mark.slow) for n in VARIANTS[1:]],
)
def test_same_logits_as_torchvision(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


def test_b0_follows_table_1():
    model = create_model("efficientnet_b0", num_classes=1000, in_chans=3)
    assert model.features.stem.conv.out_channels == 32
    for i, stage in enumerate(B0_STAGES, start=1):
        blocks = getattr(model.features, f"stage{i}")
        assert len(blocks) == stage.repeats
        first = blocks[0]
        assert first.project.conv.out_channels == stage.channels
        assert first.dw.conv.kernel_size == (stage.kernel, stage.kernel)
        assert first.dw.conv.stride == (stage.stride, stage.stride)
        width = (first.expand or first.dw).conv.in_channels
        assert first.dw.conv.out_channels == stage.expansion * width
        assert isinstance(first.dw.act, nn.SiLU)
        assert first.se.fc1.out_channels == width // 4  # SE ratio 0.25 of the block's input
    assert model.features.last_conv.conv.out_channels == 1280


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(EFFICIENTNET_VARIANTS))
def test_multiply_adds_equal_torchvision_metadata(variant):
    # B4, B5 and B7 cost 4.39, 10.27 and 37.75 GMACs, 2-5 % above Table 2's rounded
    # 4.2, 9.9 and 37; torchvision's metadata ("GFLOPS" = multiply-adds) agrees with us.
    # (at torchvision's evaluation crop, which for B2 is 288 instead of the paper's 260)
    weights = torchvision.models.get_model_weights(f"efficientnet_{variant}").IMAGENET1K_V1
    size = weights.transforms.keywords["crop_size"]
    macs = multiply_adds(meta_model(f"efficientnet_{variant}"), (3, size, size))
    assert macs / 1e9 == pytest.approx(weights.meta["_ops"], abs=1e-3)


def test_compound_scaling_with_phi_zero_is_the_base_network():
    stages, size = compound_scale(B0_STAGES, 0)
    assert stages == list(B0_STAGES) and size == 224


def test_compound_scaling_with_phi_one():
    # d = 1.2, w = 1.1, r = 1.15 · 224 = 257.6 -> 258 (Tan & Le 2019, eq. 3)
    stages, size = compound_scale(B0_STAGES, 1)
    assert size == 258
    assert [s.repeats for s in stages] == [math.ceil(s.repeats * 1.2) for s in B0_STAGES]
    assert [s.channels for s in stages] == [16, 24, 48, 88, 120, 208, 352]
    assert all(s.channels % 8 == 0 for s in stages)


def test_compound_scaling_roughly_doubles_flops_per_unit_of_phi():
    # FLOPs ∝ d·w²·r² = (α·β²·γ²)^φ = 1.92^φ ≈ 2^φ (Sec. 3.3).  Rounding repeats up adds
    # more at small φ: at φ = 1 every B0 stage gains a block and FLOPs grow 2.57-fold.
    base = multiply_adds(phi_model(0), (3, 224, 224))

    def growth(phi: float) -> float:
        _, size = compound_scale(B0_STAGES, phi)
        return multiply_adds(phi_model(phi), (3, size, size)) / base

    assert growth(4) ** (1 / 4) == pytest.approx(2.0, rel=0.03)
    assert growth(1) == pytest.approx(2.57, rel=0.01)


def test_released_coefficients_are_hand_rounded_compound_scaling():
    # φ = 1 gives (w, d, r) = (1.1, 1.2, 258), the released B2 is (1.1, 1.2, 260);
    # φ = 2 gives (1.21, 1.44, 296), the released B3 is (1.2, 1.4, 300).
    for phi, variant in ((1, "b2"), (2, "b3")):
        released = EFFICIENTNET_VARIANTS[variant]
        _, size = compound_scale(B0_STAGES, phi)
        assert 1.1**phi == pytest.approx(released.width, abs=0.015)
        assert 1.2**phi == pytest.approx(released.depth, abs=0.05)
        assert size == pytest.approx(released.resolution, abs=5)
    b2 = scale_stages(B0_STAGES, EFFICIENTNET_VARIANTS["b2"].width, 1.2)
    assert b2 == compound_scale(B0_STAGES, 1)[0]


def test_compound_scaling_works_on_any_stage_table():
    @dataclasses.dataclass(frozen=True)
    class ResNetStage:
        block: str
        channels: int
        repeats: int

    resnet50 = [ResNetStage("bottleneck", c, n) for c, n in [(64, 3), (128, 4), (256, 6), (512, 3)]]
    stages, size = compound_scale(resnet50, 2)
    assert [s.repeats for s in stages] == [5, 6, 9, 5]
    assert [s.channels for s in stages] == [80, 152, 312, 616]
    assert all(s.block == "bottleneck" for s in stages) and size == 296


def test_stage_tables_without_channels_and_repeats_are_refused():
    with pytest.raises(ConfigError, match="'channels' and 'repeats'"):
        compound_scale([(16, 1)], 1)
    with pytest.raises(ConfigError, match="width"):
        scale_stages(B0_STAGES, 0, 1)


def test_phi_builder_matches_b0_at_phi_zero():
    assert parameter_count(phi_model(0)) == parameter_count(meta_model("efficientnet_b0"))


def test_stochastic_depth_rises_linearly_over_the_blocks():
    model = create_model("efficientnet_b0", in_chans=3)
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    rates = [0.2 * i / len(blocks) for i in range(len(blocks))]
    got = [b.drop_path.drop_prob if b.drop_path is not None else None for b in blocks]
    assert got == [r if b.has_shortcut else None for r, b in zip(rates, blocks, strict=True)]
    plain = create_model("efficientnet_b0", drop_path=0.0)
    assert all(m.drop_prob == 0.0 for m in plain.modules() if isinstance(m, DropPath))


def test_released_variants_set_their_dropout_and_batch_norm():
    b7 = meta_model("efficientnet_b7")
    assert b7.head.drop.p == 0.5 and b7.features.stem.bn.eps == 1e-3
    b0 = meta_model("efficientnet_b0", dropout=0.1)
    assert b0.head.drop.p == 0.1 and b0.features.stem.bn.eps == 1e-5


def test_cifar_form_forward_and_backward_at_32x32():
    torch.manual_seed(0)
    model = create_model("efficientnet_b0", num_classes=10, in_chans=3, input_size=32)
    assert model.features.stem.conv.stride == (1, 1)
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS[1:])
def test_larger_variants_forward_and_backward_at_32x32(name):
    model = create_model(name, num_classes=10, in_chans=3, input_size=32)
    logits = model(torch.rand(2, 3, 32, 32))
    logits.sum().backward()
    assert logits.shape == (2, 10)


def test_native_resolution_forward():
    model = create_model("efficientnet_b0", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 224, 224)).shape == (2, 1000)


def test_fused_model_gives_the_same_outputs():
    torch.manual_seed(0)
    model = randomize_batch_norm(create_model("efficientnet_b0", in_chans=3, input_size=32))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32))
    assert batch_norm_count(fused) == 0


def test_bad_sizes_and_options_are_refused():
    with pytest.raises(GeometryError, match="at least 16x16"):
        create_model("efficientnet_b0", input_size=8)
    with pytest.raises(GeometryError, match="at least 32x32 pixels, got 16x16"):
        create_model("efficientnet_b0", in_chans=3)(torch.rand(1, 3, 16, 16))
    with pytest.raises(ConfigError, match="drop_path"):
        create_model("efficientnet_b0", drop_path=1.0)
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("efficientnet_b0", in_chans=0)


def test_custom_stage_tables_build_networks():
    tiny = [MBConvStage(1, 3, 1, 8, 1), MBConvStage(4, 5, 2, 16, 2)]
    model = efficientnet.EfficientNet(tiny, 8, num_classes=3, in_chans=1, input_size=32)
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 3)
    assert model.features.last_conv.conv.out_channels == 64
