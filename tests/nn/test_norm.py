"""Normalization registry (cnnlab.nn.norm) against NumPy references."""

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models import create_model
from cnnlab.nn.norm import NORMS, ActNorm, WSConv2d, get_norm, replace_norms, standardize_weights


def _lrn_numpy(a: np.ndarray, n=5, alpha=1e-4, beta=0.75, k=2.0) -> np.ndarray:
    """Krizhevsky et al. (2012), Sec. 3.3, written as in the paper (sum, not mean)."""
    channels = a.shape[1]
    out = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        out[:, i] = a[:, i] / (k + alpha * (a[:, lo : hi + 1] ** 2).sum(axis=1)) ** beta
    return out


def test_local_response_norm_is_the_equation_of_krizhevsky_et_al():
    a = np.random.default_rng(0).normal(0, 30, (2, 12, 4, 4))  # large: the divisor matters
    got = get_norm("lrn", 12)(torch.tensor(a)).numpy()
    np.testing.assert_allclose(got, _lrn_numpy(a), rtol=1e-6)
    assert not np.allclose(got, a / 2**0.75)


def test_actnorm_initialises_from_the_first_batch_then_trains_as_parameters():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 5.0, (8, 4, 6, 6)).astype(np.float32)
    layer = ActNorm(4).train()
    y = layer(torch.tensor(x)).detach().numpy()
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    std = x.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / (std + 1e-6), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-4)
    # later batches use the learned parameters, not their own statistics
    x2 = rng.normal(-1.0, 0.5, (8, 4, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(
        layer(torch.tensor(x2)).detach().numpy(), (x2 - mean) / (std + 1e-6), rtol=1e-4, atol=1e-5
    )
    assert bool(layer.state_dict()["initialized"])


def test_weight_standardization_matches_the_numpy_formula():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=True)
    x = torch.randn(2, 3, 7, 7)
    model = standardize_weights(nn.Sequential(conv))
    assert isinstance(model[0], WSConv2d) and model[0].weight is conv.weight
    w = conv.weight.detach().numpy().astype(np.float64)
    mu = w.mean(axis=(1, 2, 3), keepdims=True)
    var = w.var(axis=(1, 2, 3), keepdims=True)
    w_hat = (w - mu) / np.sqrt(var + 1e-5)
    expected = torch.nn.functional.conv2d(
        x.double(), torch.tensor(w_hat), conv.bias.detach().double(), padding=1
    )
    torch.testing.assert_close(model(x).double(), expected, rtol=1e-5, atol=1e-5)
    assert set(model.state_dict()) == {"0.weight", "0.bias"}


def test_any_model_takes_a_norm_layer_and_weight_standardization():
    model = create_model(
        "resnet20", num_classes=10, in_chans=3, norm_layer="group", weight_std=True
    )
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.modules())
    assert all(type(m) is not nn.Conv2d for m in model.modules())
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name", ["lrn", "actnorm", "layer"])
def test_every_norm_trains_in_a_model(name):
    model = create_model("simple_cnn", num_classes=3, in_chans=1, norm_layer=name)
    loss = model(torch.randn(4, 1, 12, 12)).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_norm_layer_on_a_model_without_batch_norm_says_so():
    with pytest.raises(ConfigError, match="no batch normalization"):
        create_model("lenet5", num_classes=10, in_chans=1, norm_layer="group")
    with pytest.raises(ConfigError, match="normalization"):
        replace_norms(nn.Sequential(nn.BatchNorm2d(4)), "instance")
    assert set(NORMS) == {"actnorm", "batch", "group", "layer", "lrn"}
