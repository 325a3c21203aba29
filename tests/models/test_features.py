"""Intermediate features by layer name (cnnlab.models.features)."""

import pytest
import torch

from cnnlab.errors import UnknownNameError
from cnnlab.models import create_model
from cnnlab.models.features import feature_extractor


def _has_hooks(model) -> bool:
    return any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_features_are_the_outputs_of_the_named_layers():
    model = create_model("simple_cnn", channels=(4, 8)).eval()
    x = torch.rand(2, 1, 16, 16)
    feats = feature_extractor(model, ["features.pool1", "features.conv2"])(x)
    expected_pool1 = model.features.pool1(model.features.conv1(x))
    assert list(feats) == ["features.pool1", "features.conv2"]
    torch.testing.assert_close(feats["features.pool1"], expected_pool1)
    torch.testing.assert_close(feats["features.conv2"], model.features.conv2(expected_pool1))
    assert not _has_hooks(model)


def test_features_survive_a_later_in_place_activation():
    block = torch.nn.Sequential()
    block.add_module("conv", torch.nn.Conv2d(1, 4, 3))
    block.add_module("act", torch.nn.ReLU(inplace=True))
    x = torch.randn(2, 1, 8, 8)
    feats = feature_extractor(block, ["conv", "act"])(x)
    torch.testing.assert_close(feats["conv"], block.conv(x))
    assert (feats["conv"] < 0).any()  # not overwritten by the ReLU
    torch.testing.assert_close(feats["act"], block.conv(x).relu())


def test_no_hooks_are_left_when_the_forward_pass_fails():
    model = create_model("simple_cnn", channels=(4, 8))
    with pytest.raises(RuntimeError):
        feature_extractor(model, "features.conv2")(torch.rand(2, 3, 16, 16))
    assert not _has_hooks(model)


def test_unknown_layer_lists_the_valid_names():
    model = create_model("simple_cnn", channels=(4, 8))
    with pytest.raises(UnknownNameError, match=r"features\.conv1"):
        feature_extractor(model, "features.conv9")


def test_stopping_early_skips_the_later_layers():
    model = create_model("simple_cnn", channels=(4, 8))
    called = []
    model.head.register_forward_pre_hook(lambda *_: called.append(True))
    feature_extractor(model, "features.conv1")(torch.rand(1, 1, 8, 8))
    assert not called
    feature_extractor(model, "features.conv1", stop_early=False)(torch.rand(1, 1, 8, 8))
    assert called
