"""``act='maxout'`` in every model that takes ``act`` (Goodfellow et al. 2013, eq. 1)."""

import inspect

import pytest
import torch

from cnnlab.models import create_model, list_models
from cnnlab.models.registry import model_info
from cnnlab.nn.act import Maxout, maxout_pieces

TAKES_ACT = [
    n for n in list_models() if "act" in inspect.signature(model_info(n).builder).parameters
]


def test_the_models_that_take_act_are_known():
    assert {"simple_cnn", "highway_cnn", "highway_mlp", "darknet19"} <= set(TAKES_ACT)


@pytest.mark.parametrize("name", TAKES_ACT)
def test_maxout_builds_trains_and_keeps_the_output_width(name):
    small = name.startswith(("simple", "highway"))
    shape = (2, 1, 28, 28) if small else (2, 3, 64, 64)
    kwargs = {"input_size": 28} if name == "highway_mlp" else {}
    model = create_model(name, num_classes=5, in_chans=shape[1], act="maxout", **kwargs)
    out = model(torch.randn(*shape))
    assert out.shape == (2, 5)
    out.sum().backward()
    assert any(isinstance(m, Maxout) for m in model.modules())


def test_the_layer_before_maxout_computes_k_pieces_per_unit():
    plain = create_model("simple_cnn", num_classes=10, in_chans=1, channels=(8, 16))
    maxout = create_model("simple_cnn", num_classes=10, in_chans=1, channels=(8, 16), act="maxout")
    assert plain.features.conv1.conv.out_channels == 8
    assert maxout.features.conv1.conv.out_channels == 16
    assert maxout.features.conv1.bn.num_features == 16
    assert maxout.features.conv2.conv.in_channels == 8  # the next layer sees 8 maps
    assert maxout_pieces(Maxout(3)) == 3 and maxout_pieces("relu") == 1
