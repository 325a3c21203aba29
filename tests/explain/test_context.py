"""Every method leaves the model as it found it: no hooks, same modes, same requires_grad."""

from __future__ import annotations

import gc

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.explain import features
from cnnlab.explain.context import explaining
from cnnlab.explain.methods import ATTRIBUTIONS
from cnnlab.explain.metrics import deletion_insertion
from cnnlab.explain.synthesis import class_model_visualization
from tests.explain.conftest import hooks_left, tiny_cnn

FAST = {"lime": {"samples": 20}, "smoothgrad": {"samples": 2}, "integrated-gradients": {"steps": 4}}


def _call(name, model, x, target):
    return ATTRIBUTIONS[name](model, x, target, **FAST.get(name, {}))


def _state(model):
    return [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


@pytest.mark.parametrize("name", sorted(ATTRIBUTIONS))
def test_method_leaves_no_hooks_and_restores_modes(name, images, classes):
    model = tiny_cnn().train()
    model.fc.weight.requires_grad_(False)
    before = _state(model)
    result = _call(name, model, images, classes)
    assert result.shape[0] == len(images)
    assert hooks_left(model) == []
    assert _state(model) == before


@pytest.mark.parametrize("name", sorted(ATTRIBUTIONS))
def test_method_leaves_no_hooks_after_an_error(name, images):
    model = tiny_cnn().train()
    before = _state(model)
    with pytest.raises(ConfigError, match="out of range"):
        _call(name, model, images, 7)
    assert hooks_left(model) == []
    assert _state(model) == before


def test_feature_views_and_metrics_leave_no_hooks(model, images, classes):
    features.layer_activations(model, images)
    features.layer_activations(model, images, ["features.c1"])
    features.max_activating_patches(model, images, "features.c2", [0], k=2)
    features.codes(model, images)
    features.codes(model, images, layer="features")
    deletion_insertion(model, images, classes, torch.rand_like(images), steps=4)
    class_model_visualization(model, torch.full_like(images, 0.5), classes, steps=2)
    assert hooks_left(model) == []


def test_explaining_restores_state_when_the_body_fails(model):
    model.train()
    with pytest.raises(ValueError), explaining(model):
        assert not model.training
        raise ValueError
    assert model.training and all(p.requires_grad for p in model.parameters())


def _live_tensors() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) in (torch.Tensor, torch.nn.Parameter))


@pytest.mark.slow  # scanning every Python object takes seconds in a full test process
def test_repeated_calls_do_not_accumulate_tensors(model, images, classes):
    names = ["saliency", "guided-backprop", "grad-cam", "occlusion"]
    for name in names:
        _call(name, model, images, classes)
    before = _live_tensors()
    for _ in range(3):
        for name in names:
            _call(name, model, images, classes)
    assert _live_tensors() <= before
