"""MobileNet v1, v2, v3 (cnnlab.models.mobilenet)."""

import pytest
import torch
import torchvision
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, feature_extractor, mobilenet  # noqa: F401  (registers)
from cnnlab.models.mobilenet import V1_LAYERS, V2_ROWS, V3_LARGE, V3_SMALL, split_at_strides
from cnnlab.nn import SqueezeExcite
from cnnlab.nn.mbconv import DepthwiseSeparable, InvertedResidual
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import assert_same_logits_as_torchvision, meta_model, multiply_adds

# The larger variants' 32x32 passes are slow tests: same code, more channels.
MOBILENETS = [
    pytest.param("mobilenet_v1", marks=pytest.mark.slow),
    pytest.param("mobilenet_v1_075", marks=pytest.mark.slow),
    pytest.param("mobilenet_v1_050", marks=pytest.mark.slow),
    "mobilenet_v1_025",
    "mobilenet_v2",
    pytest.param("mobilenet_v3_large", marks=pytest.mark.slow),
    "mobilenet_v3_small",
]


def forward_backward(model: nn.Module, size: int, in_chans: int = 3) -> torch.Tensor:
    logits = model(torch.rand(2, in_chans, size, size))
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    return logits


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"])
def test_same_logits_as_torchvision(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


@pytest.mark.parametrize(
    ("size", "paper_macs"), [(224, 569e6), (192, 418e6), (160, 290e6), (128, 186e6)]
)
def test_v1_resolution_multiplier_costs_of_table_7(size, paper_macs):
    # ρ = size / 224 scales the input only: multiply-adds fall with ρ² (Sec. 3.4)
    macs = multiply_adds(meta_model("mobilenet_v1"), (3, size, size))
    assert macs == pytest.approx(paper_macs, rel=0.005)


def test_v1_follows_table_1():
    model = create_model("mobilenet_v1", num_classes=1000, in_chans=3)
    layers = [m for m in model.features.modules() if isinstance(m, DepthwiseSeparable)]
    assert [(b.pw.conv.out_channels, b.dw.conv.stride[0]) for b in layers] == list(V1_LAYERS)
    assert len(layers) == 13 and model.features.stem.conv.stride == (2, 2)
    assert model.head.fc.in_features == 1024


def test_v1_width_multiplier_thins_every_layer():
    model = create_model("mobilenet_v1_025", num_classes=1000, in_chans=3)
    assert model.features.stem.conv.out_channels == 8
    assert model.head.fc.in_features == 256


def test_v2_follows_table_2():
    model = create_model("mobilenet_v2", num_classes=1000, in_chans=3)
    for i, row in enumerate(V2_ROWS, start=1):
        stage = getattr(model.features, f"stage{i}")
        assert len(stage) == row.n and stage[0].project.conv.out_channels == row.c
        assert stage[0].dw.conv.stride == (row.s, row.s)
        assert stage[0].dw.conv.out_channels == stage[0].project.conv.in_channels
        if row.n > 1:  # repeats take the stage's own width c as input
            assert stage[-1].dw.conv.out_channels == row.t * row.c
    assert model.features.last_conv.conv.out_channels == 1280
    assert isinstance(model.features.stage2[0].dw.act, nn.ReLU6)


def test_v2_width_multiplier_keeps_at_least_1280_final_maps():
    assert create_model("mobilenet_v2", width_mult=0.5).head.fc.in_features == 1280
    assert create_model("mobilenet_v2", width_mult=1.4).head.fc.in_features == 1792


def test_v3_uses_hard_swish_and_hard_sigmoid_gated_se_where_the_tables_say():
    for name, rows in (("mobilenet_v3_large", V3_LARGE), ("mobilenet_v3_small", V3_SMALL)):
        model = create_model(name, num_classes=1000, in_chans=3)
        blocks = [m for m in model.features.modules() if isinstance(m, InvertedResidual)]
        assert [b.se is not None for b in blocks] == [row.se for row in rows]
        assert [type(b.dw.act).__name__ for b in blocks] == [
            "Hardswish" if row.act == "hard_swish" else "ReLU" for row in rows
        ]
        gates = [m.gate for m in model.modules() if isinstance(m, SqueezeExcite)]
        assert gates and all(isinstance(g, nn.Hardsigmoid) for g in gates)
        assert model.features[0].bn.eps == 1e-3


def test_v3_stages_start_at_each_stride_two_layer():
    stages = split_at_strides(V3_LARGE, lambda row: row.stride)
    assert [len(s) for s in stages] == [1, 2, 3, 6, 3]
    model = create_model("mobilenet_v3_large", in_chans=3).eval()
    shapes = feature_extractor(model, [f"features.stage{i}" for i in range(1, 6)])(
        torch.rand(1, 3, 32, 32)
    )
    assert [t.shape[-1] for t in shapes.values()] == [16, 8, 4, 2, 1]


@pytest.mark.parametrize("name", MOBILENETS)
def test_cifar_form_forward_and_backward_at_32x32(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=3, input_size=32)
    assert model.features.stem.conv.stride == (1, 1)
    assert model.features(torch.rand(1, 3, 32, 32)).shape[-1] == 2
    assert forward_backward(model, 32).shape == (2, 10)


@pytest.mark.parametrize("name", ["mobilenet_v1_025", "mobilenet_v3_small"])
def test_native_resolution_forward(name):
    model = create_model(name, num_classes=1000, in_chans=3).eval()
    assert model.features.stem.conv.stride == (2, 2)
    with torch.no_grad():
        assert model(torch.rand(2, 3, 224, 224)).shape == (2, 1000)


def test_stem_can_be_chosen_explicitly():
    assert (
        create_model("mobilenet_v2", stem="imagenet", input_size=64).features.stem.conv.stride[0]
        == 2
    )
    assert create_model("mobilenet_v2", stem="cifar").features.stem.conv.stride[0] == 1


def test_too_small_input_size_is_refused_at_construction():
    with pytest.raises(GeometryError, match="at least 16x16"):
        create_model("mobilenet_v2", input_size=8)
    with pytest.raises(GeometryError, match="at least 32x32"):
        create_model("mobilenet_v3_small", stem="imagenet", input_size=24)


def test_too_small_input_is_refused_at_forward():
    model = create_model("mobilenet_v1_025", in_chans=3)
    with pytest.raises(GeometryError, match="at least 32x32 pixels, got 16x16"):
        model(torch.rand(1, 3, 16, 16))


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small"])
def test_bad_width_multiplier_or_channels_are_config_errors(name):
    with pytest.raises(ConfigError, match="width_mult"):
        create_model(name, width_mult=0)
    with pytest.raises(ConfigError, match="in_chans"):
        create_model(name, in_chans=0)


@pytest.mark.parametrize("name", ["mobilenet_v1_025", "mobilenet_v3_small"])
def test_fused_model_gives_the_same_outputs(name):
    torch.manual_seed(0)
    model = randomize_batch_norm(create_model(name, in_chans=3, input_size=32))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32))
    assert batch_norm_count(fused) == 0


def test_torchvision_weights_load_for_other_classes_and_channels(tmp_path):
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), tmp_path / "v3.pth")
    with pytest.warns(UserWarning, match="head.fc.weight"):
        model = create_model(
            "mobilenet_v3_small", num_classes=10, in_chans=1, weights=tmp_path / "v3.pth"
        )
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 10)
