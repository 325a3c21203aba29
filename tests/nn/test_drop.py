"""Stochastic depth (cnnlab.nn.drop)."""

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.nn.drop import DropPath, drop_path_rates


def test_drop_path_passes_everything_at_inference():
    x = torch.randn(8, 3, 4, 4)
    assert torch.equal(DropPath(0.5).eval()(x), x)


def test_drop_path_drops_whole_samples_and_keeps_the_expectation():
    torch.manual_seed(0)
    out = DropPath(0.25).train()(torch.ones(20000, 2, 2, 2))
    per_sample = out.flatten(1)
    assert torch.all((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1))
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)


def test_drop_path_rates_rise_linearly_to_the_final_rate():
    assert drop_path_rates(0.2, 5) == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])


def test_drop_probability_of_one_is_refused():
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        DropPath(1.0)


def test_drop_connect_zeroes_weights_not_activations_and_keeps_the_mean():
    from cnnlab.nn.drop import DropConnectLinear

    torch.manual_seed(0)
    layer = DropConnectLinear(1, 4000, drop_prob=0.5, bias=False)
    torch.nn.init.ones_(layer.weight)
    out = layer.train()(torch.ones(1, 1))
    assert set(out.unique().tolist()) == {0.0, 2.0}  # per-weight masks, inverted scaling
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)
    assert torch.equal(layer.eval()(torch.ones(1, 1)), torch.ones(1, 4000))


@pytest.mark.parametrize("name", ["simple_cnn", "lenet5_modern"])
def test_dropconnect_option_of_the_models_drops_weights_only_in_training(name):
    from cnnlab.models import create_model

    torch.manual_seed(0)
    plain = create_model(name, dropout=0.0)
    torch.manual_seed(0)
    dropping = create_model(name, dropout=0.0, dropconnect=0.5)
    assert plain.state_dict().keys() == dropping.state_dict().keys()
    dropping.load_state_dict(plain.state_dict())
    x = torch.rand(4, 1, 28, 28)
    plain.eval(), dropping.eval()
    torch.testing.assert_close(dropping(x), plain(x))
    dropping.train()
    assert not torch.allclose(dropping(x), dropping(x))
