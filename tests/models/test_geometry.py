"""A model's geometry (cnnlab.models.geometry): layers that drop pixels, strict builds,
receptive fields through residual and concatenating blocks."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, format_layer_table, layer_table
from cnnlab.models.geometry import check_geometry, fitting_input_sizes, trace_geometry


@pytest.fixture(scope="module")
def alexnet_224_rows():
    model = create_model("alexnet_original", num_classes=1000, in_chans=3, input_size=224)
    return layer_table(model, (3, 224, 224))


def test_summary_flags_alexnets_first_layer_at_224(alexnet_224_rows):
    rows = {r.name: r for r in alexnet_224_rows}
    note = rows["features.conv1.conv"].note
    assert "(224 − 11 + 2·0)/4 + 1 = 54.25 is not an integer" in note
    assert "227 fits" in note
    assert rows["features.conv1.conv"].output_shape == (96, 54, 54)
    assert rows["features.conv2.conv"].note is None  # 5x5 'same' padding tiles
    text = format_layer_table(alexnet_224_rows)
    assert any(line.startswith("features.conv1.conv !") for line in text.splitlines())
    assert "! features.conv1.conv: rows: (224 − 11" in text


def test_alexnet_at_227_has_no_note():
    model = create_model("alexnet_original", num_classes=1000, in_chans=3, input_size=227)
    assert all(r.note is None for r in layer_table(model, (3, 227, 227)))


def test_strict_build_raises_with_the_formula_and_the_input_sizes_that_fit():
    with pytest.raises(GeometryError) as info:
        create_model("alexnet_original", num_classes=1000, in_chans=3, input_size=224, strict=True)
    message = str(info.value)
    assert "features.conv1.conv" in message and "54.25" in message
    assert "3x227x227" in message
    # the published input size (the registry's Reference: 227) passes
    create_model("alexnet_original", num_classes=1000, in_chans=3, strict=True)


def test_strict_without_an_input_size_asks_for_one():
    with pytest.raises(ConfigError, match="input_size"):
        create_model("simple_cnn", num_classes=10, in_chans=1, strict=True)


def test_fitting_sizes_are_the_nearest_that_tile_every_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Conv2d(2, 2, 3, stride=2))
    # 3x3/2 tiles an odd input: 15 -> 7 -> 3 fits, 17 -> 8 (even) does not, 19 -> 9 -> 4 fits
    assert fitting_input_sizes(model, (1, 17, 17)) == [15, 19]
    with pytest.raises(GeometryError, match="1x15x15 or 1x19x19"):
        check_geometry(model, (1, 17, 17))
    check_geometry(model, (1, 15, 15))


def _resnet20_rf(stage: int, block: int, conv: int) -> int:
    """Hand computation for ResNet-20 (He et al. 2016, Sec. 4.2): a 3x3 stem, then 3
    stages of 3 blocks of two 3x3 convolutions; the first conv of stages 2 and 3
    has stride 2.  Each 3x3 conv adds 2·jump; the shortcut's field is smaller than
    the branch's, so the sum keeps the branch's."""
    rf, jump = 3, 1  # stem
    for s in range(1, stage + 1):
        for b in range(3):
            for c in (1, 2):
                rf += 2 * jump
                if s > 1 and b == 0 and c == 1:
                    jump *= 2
                if (s, b, c) == (stage, block, conv):
                    return rf
    raise AssertionError


@pytest.mark.parametrize(("stage", "block", "conv"), [(1, 2, 2), (2, 0, 2), (3, 1, 1)])
def test_resnet20_receptive_field_equals_the_hand_computation(stage, block, conv):
    model = create_model("resnet20", num_classes=10, in_chans=3)
    rows = {r.name: r.receptive_field for r in layer_table(model, (3, 32, 32))}
    name = f"features.layer{stage}.{block}.branch.conv{conv}.conv"
    assert rows[name] == _resnet20_rf(stage, block, conv)


def test_resnet20_hand_values_and_the_head():
    assert [_resnet20_rf(1, 2, 2), _resnet20_rf(2, 0, 2), _resnet20_rf(3, 1, 1)] == [15, 21, 57]
    model = create_model("resnet20", num_classes=10, in_chans=3)
    rows = layer_table(model, (3, 32, 32))
    # global pooling over the last 8x8 map (jump 4) adds 7·4 to the last conv's 81
    assert rows[-1].receptive_field == 81 + 7 * 4


def test_concatenation_keeps_the_larger_field():
    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(1, 2, 1)
            self.b = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1))
            self.after = nn.Conv2d(4, 1, 3, padding=1)

        def forward(self, x):
            return self.after(torch.cat([self.a(x), self.b(x)], dim=1))

    calls = trace_geometry(Branches(), (1, 16, 16))
    assert calls["a"][0].receptive_field == 1
    assert calls["b"][0].receptive_field == 5
    assert calls["after"][0].receptive_field == 7
