"""LeNet-1, LeNet-4, LeNet-5 and its modern variant (cnnlab.models.lenet), LeCun et al."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError, UnknownNameError
from cnnlab.models import (
    count_parameters,
    create_model,
    layer_table,
    list_models,
    model_description,
    model_info,
)
from cnnlab.models.lenet import C3_TABLE, FanOutSubsample2d, RBFOutput
from cnnlab.nn.act import ScaledTanh

LECTURE_PARAMS = {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}


def layer(model, name):
    return getattr(model.features, name, None) or getattr(model.head, name)


def test_lenet5_has_the_parameter_counts_of_the_paper():
    model = create_model("lenet5")
    for name, expected in LECTURE_PARAMS.items():
        assert count_parameters(layer(model, name)) == expected, name
    assert count_parameters(model.head.output) == 84 * 10 + 10
    assert count_parameters(model) == 60_000 + 850


def test_c3_connection_table_is_table_i_of_the_paper():
    # C3 maps 0-5: three consecutive S2 maps; 6-11: four consecutive;
    # 12-14: four non-consecutive; 15: all six (LeCun et al. 1998, Sec. II.B).
    expected = [{j % 6, (j + 1) % 6, (j + 2) % 6} for j in range(6)]
    expected += [{(j + d) % 6 for d in range(4)} for j in range(6)]
    expected += [{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}, set(range(6))]
    table = [{i for i in range(6) if C3_TABLE[i][j] == "X"} for j in range(16)]
    assert table == expected
    c3 = create_model("lenet5").features.c3
    assert int(c3.mask.sum()) == 60
    assert [set(row.nonzero().flatten().tolist()) for row in c3.mask] == expected


def test_c3_kernels_of_unconnected_maps_are_zero():
    c3 = create_model("lenet5").features.c3
    dense = c3.full_weight()
    assert (dense[~c3.mask] == 0).all()
    assert (dense[c3.mask].abs().sum(dim=(1, 2)) > 0).all()


def test_lenet5_squashes_every_hidden_layer_with_scaled_tanh():
    model = create_model("lenet5")
    assert sum(isinstance(m, ScaledTanh) for m in model.modules()) == 6


def test_lenet5_forward_and_backward_on_a_batch_of_two():
    torch.manual_seed(0)
    model = create_model("lenet5")
    x, y = torch.rand(2, 1, 32, 32), torch.tensor([3, 7])
    logits = model(x)
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_features_then_head_is_the_model():
    model = create_model("lenet5").eval()
    x = torch.rand(2, 1, 32, 32)
    assert model.features(x).shape == (2, 120, 1, 1)
    torch.testing.assert_close(model.head(model.features(x)), model(x))


def test_lenet5_takes_28x28_inputs_by_padding_c1():
    model = create_model("lenet5", input_size=28)
    assert model.features.c1.padding == (2, 2)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert count_parameters(model) == 60_850


def test_lenet5_with_three_channels_widens_c1_only():
    model = create_model("lenet5", in_chans=3, num_classes=5)
    assert count_parameters(model.features.c1) == 6 * (3 * 25 + 1)
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 5)


@pytest.mark.parametrize("size", [29, 36])
def test_lenet5_rejects_an_input_size_it_cannot_pad_to_32(size):
    with pytest.raises(GeometryError, match=f"input_size={size} cannot be padded to 32"):
        create_model("lenet5", input_size=size)


def test_a_wrong_input_size_at_forward_names_the_expected_size():
    with pytest.raises(
        GeometryError, match=r"built for 1x32x32 inputs, got 1x28x28.*input_size=28"
    ):
        create_model("lenet5")(torch.rand(1, 1, 28, 28))


def test_rbf_output_returns_negative_squared_distances_to_fixed_codes():
    model = create_model("lenet5", output="rbf")
    output = model.head.output
    assert isinstance(output, RBFOutput) and count_parameters(output) == 0
    assert set(output.centers.unique().tolist()) == {-1.0, 1.0}
    torch.testing.assert_close(
        output.centers, create_model("lenet5", output="rbf").head.output.centers
    )
    f6 = torch.randn(3, 84)
    expected = -(torch.cdist(f6, output.centers) ** 2)
    torch.testing.assert_close(output(f6), expected, rtol=1e-4, atol=1e-3)
    assert count_parameters(model) == 60_000


def test_unknown_output_is_rejected():
    with pytest.raises(UnknownNameError, match="linear, rbf"):
        create_model("lenet5", output="softmax")


@pytest.mark.parametrize("size", [28, 32])
def test_lenet5_modern_forward_and_backward(size):
    model = create_model("lenet5_modern", input_size=size)
    logits = model(torch.rand(2, 1, size, size))
    assert logits.shape == (2, 10)
    logits.sum().backward()
    assert model.features.c1.conv.weight.grad is not None


def test_lenet5_modern_options():
    plain = create_model("lenet5_modern", bn=False, dropout=0.0, channels=(6, 16))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in plain.modules())
    assert plain.features(torch.rand(1, 1, 28, 28)).shape == (1, 16, 5, 5)
    # with LeNet's widths and full C3 connectivity: 156 + 2416 + 48120 + 10164 + 850
    assert count_parameters(plain) == 156 + 16 * (6 * 25 + 1) + 48_120 + 10_164 + 850


def test_every_lenet_builder_is_registered_with_a_description():
    for name in ("lenet1", "lenet4", "lenet5", "lenet5_modern", "simple_cnn"):
        assert name in list_models() and model_description(name)


def test_unknown_builder_option_is_a_config_error():
    with pytest.raises(ConfigError, match="lenet5"):
        create_model("lenet5", widht=3)


LENET1_PARAMS = {"c1": 104, "s2": 8, "c3": 512, "s4": 24, "output": 1930}


def test_lenet1_has_the_2578_parameters_of_the_1990_paper():
    model = create_model("lenet1")
    for name, expected in LENET1_PARAMS.items():
        assert count_parameters(layer(model, name)) == expected, name
    assert count_parameters(model) == 2578
    assert model_info("lenet1").reference.params == 2578


def test_lenet1_has_the_98442_connections_of_the_1990_paper():
    model = create_model("lenet1")
    c3 = model.features.c3
    # (kernel weights + bias) per unit, for every unit of every layer
    connections = {
        "c1": 4 * 24 * 24 * (25 + 1),
        "s2": 4 * 12 * 12 * (4 + 1),
        "c3": 8 * 8 * int((c3.mask.sum(dim=1) * 25 + 1).sum()),
        "s4": 12 * 4 * 4 * (4 + 1),
        "output": 10 * (192 + 1),
    }
    assert connections["c3"] == 32_768
    assert sum(connections.values()) == 98_442


def test_lenet1_c3_maps_see_one_or_two_s2_maps():
    mask = create_model("lenet1").features.c3.mask
    assert sorted(mask.sum(dim=1).tolist()) == [1] * 4 + [2] * 8
    assert mask.sum(dim=0).tolist() == [5, 5, 5, 5]
    pairs = {tuple(row.nonzero().flatten().tolist()) for row in mask if row.sum() == 2}
    assert len(pairs) == 6  # every pair of S2 maps feeds some C3 map


def test_lenet1_centres_16x16_digits_in_its_28x28_field():
    model = create_model("lenet1", input_size=16)
    assert model.features.c1.padding == (6, 6)
    assert model.features(torch.rand(2, 1, 16, 16)).shape == (2, 12, 4, 4)
    with pytest.raises(GeometryError, match="input_size=30 cannot be padded to 28"):
        create_model("lenet1", input_size=30)


def test_lenet4_subsamples_each_c1_map_twice():
    model = create_model("lenet4")
    s2 = model.features.s2
    assert isinstance(s2, FanOutSubsample2d) and count_parameters(s2) == 8 * 2
    with torch.no_grad():
        s2.weight.copy_(torch.arange(1.0, 9.0))
        c1 = torch.rand(1, 4, 28, 28)
        pooled = nn.functional.avg_pool2d(c1, 2)
        for j in range(8):
            torch.testing.assert_close(s2(c1)[:, j], (j + 1) * pooled[:, j // 2])


def test_lenet4_layers_follow_the_1998_description():
    model = create_model("lenet4")
    shapes = {r.name: r.output_shape for r in layer_table(model)}
    assert shapes == {
        "input": (1, 32, 32),
        "features.c1": (4, 28, 28),
        "features.s2": (8, 14, 14),
        "features.c3": (16, 10, 10),
        "features.s4": (16, 5, 5),
        "head.f5": (120,),
        "head.output": (10,),
    }
    assert count_parameters(model) == 104 + 16 + 3216 + 32 + 48_120 + 1210


@pytest.mark.parametrize("name", ["lenet1", "lenet4"])
def test_early_lenets_forward_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10)
    size = model.input_shape[-1]
    logits = model(torch.rand(2, 1, size, size))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert sum(isinstance(m, ScaledTanh) for m in model.modules()) == 4 + (name == "lenet4")


def test_lenet5_is_registered_with_the_papers_60000_parameters():
    info = model_info("lenet5")
    assert info.reference.params == 60_000 and info.kwargs["output"] == "rbf"
    assert count_parameters(create_model("lenet5", **info.kwargs)) == 60_000
