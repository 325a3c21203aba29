"""Guided backprop and deconvnet on a network without ReLU equal the plain gradient, and
cnnlab says so (cnnlab.explain.gradients.same_as_gradient_note)."""

import torch

from cnnlab.explain import deconvnet, guided_backprop
from cnnlab.explain.gradients import gradient, relu_count, same_as_gradient_note
from cnnlab.models import create_model


def test_lenet5_has_no_relu_so_both_maps_are_the_gradient():
    torch.manual_seed(0)
    model = create_model("lenet5", num_classes=10, in_chans=1).eval()
    x, target = torch.rand(2, 1, 32, 32), torch.tensor([3, 7])
    assert relu_count(model, x) == 0
    plain = gradient(model, x, target)
    for method in (guided_backprop, deconvnet):
        torch.testing.assert_close(method(model, x, target), plain)
    for method in ("guided-backprop", "deconvnet", "guided-grad-cam"):
        assert "has no ReLU" in same_as_gradient_note(model, x, method)
    assert same_as_gradient_note(model, x, "saliency") is None


def test_a_relu_network_gets_no_note():
    model = create_model("lenet5_modern", num_classes=10, in_chans=1, input_size=32).eval()
    x = torch.rand(1, 1, 32, 32)
    assert relu_count(model, x) == 4
    assert same_as_gradient_note(model, x, "guided-backprop") is None
