"""Gradient methods: agreement with captum, completeness, linear models, ReLU variants."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from captum.attr import Deconvolution, GuidedBackprop, IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from cnnlab.explain.gradients import (
    deconvnet,
    gradient,
    guided_backprop,
    integrated_gradients,
    saliency,
    smoothgrad,
)
from tests.explain.conftest import tiny_cnn

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum.*")


def assert_matches(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5 * float(theirs.abs().max()))


def test_saliency_matches_captum(model, images, classes):
    expected = Saliency(model).attribute(images, target=classes, abs=True)
    assert_matches(saliency(model, images, classes), expected)


def test_guided_backprop_matches_captum(model, images, classes):
    expected = GuidedBackprop(model).attribute(images, target=classes)
    assert_matches(guided_backprop(model, images, classes), expected)


def test_deconvnet_matches_captum_deconvolution(model, images, classes):
    expected = Deconvolution(model).attribute(images, target=classes)
    assert_matches(deconvnet(model, images, classes), expected)


def test_integrated_gradients_match_captum(model, images, classes):
    expected = IntegratedGradients(model).attribute(
        images, baselines=0.0, target=classes, n_steps=50, method="gausslegendre"
    )
    assert_matches(integrated_gradients(model, images, classes, steps=50), expected)


def test_integrated_gradients_do_not_depend_on_batch_size(model, images, classes):
    whole = integrated_gradients(model, images, classes, steps=20, batch_size=1000)
    split = integrated_gradients(model, images, classes, steps=20, batch_size=6)
    torch.testing.assert_close(whole, split)


def test_integrated_gradients_are_complete():
    torch.manual_seed(0)
    smooth = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.Softplus(), nn.Flatten(), nn.Linear(4 * 8 * 8, 2)
    ).double()
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    baseline = torch.full_like(x, 0.5)
    attributions = integrated_gradients(smooth, x, 1, baseline=baseline, steps=32)
    with torch.no_grad():
        gap = smooth(x)[:, 1] - smooth(baseline)[:, 1]
    torch.testing.assert_close(attributions.sum((1, 2, 3)), gap, rtol=1e-8, atol=1e-10)


def test_saliency_of_a_linear_model_is_its_weight_row():
    linear = nn.Linear(3 * 4 * 4, 5).double()
    model = nn.Sequential(nn.Flatten(), linear)
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    expected = linear.weight[3].detach().abs().view(1, 3, 4, 4).expand_as(x)
    torch.testing.assert_close(saliency(model, x, 3), expected)


def test_smoothgrad_matches_captum_noise_tunnel_without_noise(model, images, classes):
    expected = NoiseTunnel(Saliency(model)).attribute(
        images, nt_type="smoothgrad", nt_samples=4, stdevs=0.0, target=classes, abs=True
    )
    assert_matches(smoothgrad(model, images, classes, samples=4, noise=0.0), expected)


def test_smoothgrad_is_reproducible_with_a_seed(model, images, classes):
    first = smoothgrad(model, images, classes, samples=6, seed=3)
    torch.testing.assert_close(first, smoothgrad(model, images, classes, samples=6, seed=3))
    assert not torch.equal(first, smoothgrad(model, images, classes, samples=6, seed=4))


def test_smoothgrad_averages_any_method_with_its_options(model, images, classes):
    result = smoothgrad(
        model, images, classes, method=integrated_gradients, samples=2, noise=0.0, steps=8
    )
    torch.testing.assert_close(result, integrated_gradients(model, images, classes, steps=8))


@pytest.mark.parametrize("method", [guided_backprop, deconvnet])
def test_inplace_and_reused_relus_give_the_same_result(method, images, classes):
    reference = tiny_cnn()
    shared = nn.ReLU(inplace=True)  # one module object used at two places
    variant = tiny_cnn()
    variant.features.r1 = shared
    variant.features.r2 = shared
    torch.testing.assert_close(method(variant, images, classes), method(reference, images, classes))


class _FunctionalRelu(nn.Module):
    def __init__(self, net: nn.Sequential):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.net.features
        x = f.p1(torch.relu(f.c1(x)))
        x = torch.nn.functional.relu(f.c2(x), inplace=True)
        return self.net.fc(self.net.flat(self.net.gap(x)))


def test_guided_backprop_also_modifies_functional_relus(images, classes):
    reference = tiny_cnn()
    functional = _FunctionalRelu(tiny_cnn())
    torch.testing.assert_close(
        guided_backprop(functional, images, classes), guided_backprop(reference, images, classes)
    )


def test_guided_backprop_differs_from_the_plain_gradient(model, images, classes):
    assert not torch.allclose(
        guided_backprop(model, images, classes), gradient(model, images, classes)
    )


def test_target_callable_explains_a_segmentation_model():
    torch.manual_seed(0)
    segmenter = nn.Sequential(
        OrderedDict(conv=nn.Conv2d(3, 4, 3, padding=1), relu=nn.ReLU(), out=nn.Conv2d(4, 2, 1))
    ).double()
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)

    def score(output: torch.Tensor) -> torch.Tensor:
        return output[:, 1].sum((1, 2))

    leaf = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(score(segmenter(leaf)).sum(), leaf)
    torch.testing.assert_close(saliency(segmenter, x, score), expected.abs())


def test_results_carry_no_graph_and_weights_get_no_gradient(model, images, classes):
    for method in (saliency, guided_backprop, integrated_gradients, smoothgrad):
        result = method(model, images, classes)
        assert result.grad_fn is None and not result.requires_grad
    assert all(p.grad is None for p in model.parameters())


def test_gradient_methods_work_under_no_grad_and_on_inference_tensors(model, images, classes):
    expected = saliency(model, images, classes)
    with torch.no_grad():
        torch.testing.assert_close(saliency(model, images, classes), expected)
    with torch.inference_mode():
        frozen = images.clone()
    torch.testing.assert_close(saliency(model, frozen, classes), expected)
