"""The small configurable CNN (cnnlab.models.simple)."""

import pytest
import torch
from torch import nn

from cnnlab.models import count_parameters, create_model


@pytest.mark.parametrize(("chans", "size"), [(1, 28), (3, 32), (1, 9)])
def test_simple_cnn_takes_any_input_size(chans, size):
    model = create_model("simple_cnn", in_chans=chans, num_classes=7)
    assert model(torch.rand(2, chans, size, size)).shape == (2, 7)


def test_simple_cnn_is_configured_by_data():
    model = create_model(
        "simple_cnn", channels=(8, 16, 32), kernel=5, bn=False, act="gelu", dropout=0.5, pool="avg"
    )
    assert [n for n, _ in model.features.named_children()] == [
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "conv3",
        "pool3",
    ]
    assert model.features.conv2.conv.kernel_size == (5, 5)
    assert isinstance(model.features.conv3.act, nn.GELU)
    assert isinstance(model.features.pool1, nn.AvgPool2d)
    assert isinstance(model.head.drop, nn.Dropout) and model.head.drop.p == 0.5
    assert (
        count_parameters(model)
        == (1 * 25 + 1) * 8 + (8 * 25 + 1) * 16 + (16 * 25 + 1) * 32 + 33 * 10
    )
