"""LeNet-5 and its modern variant (cnnlab.models.lenet), LeCun et al. (1998)."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError, UnknownNameError
from cnnlab.models import count_parameters, create_model, list_models, model_description
from cnnlab.models.lenet import C3_TABLE, RBFOutput
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
    for name in ("lenet5", "lenet5_modern", "simple_cnn"):
        assert name in list_models() and model_description(name)


def test_unknown_builder_option_is_a_config_error():
    with pytest.raises(ConfigError, match="lenet5"):
        create_model("lenet5", widht=3)
