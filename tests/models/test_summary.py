"""Layer table (cnnlab.models.summary): shapes, parameters, MACs, receptive fields."""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.errors import ConfigError
from cnnlab.metrics import count_flops
from cnnlab.models import count_parameters, create_model, format_layer_table, layer_table

# The LeNet-5 table of the lecture (LeCun et al. 1998, Fig. 2).
LECTURE = {
    "features.c1": ((6, 28, 28), 156),
    "features.s2": ((6, 14, 14), 12),
    "features.c3": ((16, 10, 10), 1516),
    "features.s4": ((16, 5, 5), 32),
    "features.c5": ((120, 1, 1), 48120),
    "head.f6": ((84,), 10164),
    "head.output": ((10,), 850),
}


def test_lenet5_table_has_the_shapes_and_parameters_of_the_lecture():
    rows = layer_table(create_model("lenet5"), (1, 32, 32))
    assert rows[0].name == "input" and rows[0].output_shape == (1, 32, 32)
    assert {r.name: (r.output_shape, r.params) for r in rows[1:]} == LECTURE


def test_lenet5_table_has_the_receptive_fields_and_connections():
    rows = {r.name: r for r in layer_table(create_model("lenet5"))}
    rf = [rows[f"features.{n}"].receptive_field for n in ("c1", "s2", "c3", "s4", "c5")]
    assert rf == [5, 6, 14, 16, 32]
    assert rows["features.c1"].macs == 6 * 25 * 28 * 28
    assert rows["features.c3"].macs == 60 * 25 * 10 * 10  # connected kernels only
    assert rows["head.f6"].macs == 120 * 84


def test_table_totals_equal_the_parameter_count():
    for name in ("lenet5", "lenet5_modern", "simple_cnn"):
        model = create_model(name)
        rows = layer_table(model, (1, 28, 28) if name != "lenet5" else None)
        assert sum(r.params for r in rows) == count_parameters(model), name


@pytest.mark.parametrize(
    ("name", "kwargs", "shape"),
    [
        ("lenet5_modern", {}, (1, 28, 28)),
        ("simple_cnn", {}, (1, 28, 28)),
        ("simple_cnn", {"in_chans": 3, "channels": (16, 32, 64), "kernel": 5}, (3, 32, 32)),
    ],
)
def test_table_macs_equal_half_the_flops_of_torch_flop_counter(name, kwargs, shape):
    model = create_model(name, **kwargs).eval()
    macs = sum(r.macs for r in layer_table(model, shape))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    assert macs == counter.get_total_flops() // 2


def test_grouped_and_separable_convolutions_count_macs_like_torch():
    from cnnlab.nn.conv import SeparableConv2d, conv2d

    model = nn.Sequential(
        conv2d(8, 16, 3, groups=4, padding=1), SeparableConv2d(16, 32, 3, stride=2)
    )
    macs = sum(r.macs for r in layer_table(model, (8, 12, 12)))
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 8, 12, 12))
    assert macs == counter.get_total_flops() // 2


def test_lenet5_table_total_is_the_count_of_the_one_mac_counter():
    model = create_model("lenet5")
    total = sum(r.macs for r in layer_table(model))
    assert total == count_flops(model, (1, 32, 32)) // 2 == 332_824  # C3: connected kernels only


class _Mixer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.register_buffer("mix", torch.eye(3))

    def forward(self, x):
        return (self.conv(x).flatten(2).transpose(1, 2) @ self.mix).transpose(1, 2)


def test_multiply_adds_of_a_call_without_a_row_go_to_the_row_above():
    model = nn.Sequential(_Mixer(), nn.Flatten(), nn.Linear(3 * 36, 2))
    rows = {r.name: r for r in layer_table(model, (1, 8, 8))}
    assert "0" not in rows
    assert rows["0.conv"].macs == 3 * 9 * 36 + 36 * 3 * 3
    assert sum(r.macs for r in rows.values()) == count_flops(model, (1, 8, 8)) // 2


def test_table_leaves_no_hooks_and_restores_training_mode():
    model = create_model("lenet5_modern").train()
    running_mean = model.features.c1.bn.running_mean.clone()
    layer_table(model)
    assert all(m.training for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())
    torch.testing.assert_close(model.features.c1.bn.running_mean, running_mean)


def test_table_needs_an_input_shape_when_the_model_has_none():
    with pytest.raises(ConfigError, match="input_shape"):
        layer_table(create_model("simple_cnn"))


def test_formatted_table_shows_every_layer_and_the_totals():
    text = format_layer_table(layer_table(create_model("lenet5")))
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Type", "Kernel/stride", "Output", "Params", "MACs", "RF"]
    assert any(
        line.startswith("features.c3") and "16x10x10" in line and "1,516" in line for line in lines
    )
    assert lines[-1].startswith("Total") and "60,850" in lines[-1]


def test_receptive_field_continues_through_gated_blocks():
    model = create_model("mobilenet_v3_small", num_classes=10, in_chans=3)
    rows = layer_table(model, (3, 224, 224))
    assert all(r.receptive_field is not None for r in rows)
    rf = [r.receptive_field for r in rows]
    assert rf == sorted(rf)  # every unit sees at least what its inputs saw
    # stem 3x3/2 (r 3, jump 2), depthwise 3x3/2 (r 3 + 2·2 = 7, jump 4, a 56x56 map):
    # the squeeze-and-excitation pooling then sees that whole map, 7 + 55·4
    se = next(r for r in rows if ".se." in r.name)
    assert se.receptive_field == 7 + (56 - 1) * 4


def test_receptive_field_is_unknown_after_an_up_sampling():
    rows = layer_table(create_model("unet_small", num_classes=2, in_chans=1), (1, 32, 32))
    kinds = [r.kind for r in rows]
    first_up = kinds.index(next(k for k in kinds if "Transpose" in k or "Up" in k))
    assert all(r.receptive_field is not None for r in rows[:first_up])
    assert rows[-1].receptive_field is None
