"""Noise models: their statistics, their seeds, and the kind:param specs."""

from __future__ import annotations

import pytest
import torch

from cnnlab.data.noise import Noise, add_noise, parse_noise, sample_noise
from cnnlab.errors import ConfigError


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def grey(n: int = 64, side: int = 32, value: float = 0.5) -> torch.Tensor:
    return torch.full((n, 1, side, side), value)


def test_gaussian_noise_is_zero_mean_with_sigma_and_not_clipped():
    clean = torch.rand(64, 3, 32, 32, generator=generator(1))
    noise = add_noise(clean, Noise("gaussian", 0.2), generator()) - clean
    assert noise.mean().item() == pytest.approx(0.0, abs=0.003)
    assert noise.std().item() == pytest.approx(0.2, rel=0.01)
    black = add_noise(torch.zeros(64, 1, 32, 32), Noise("gaussian", 0.2), generator())
    assert black.min() < -0.5  # unclipped: E[y | x = 0] stays 0 (Noise2Void's assumption)
    assert black.mean().item() == pytest.approx(0.0, abs=0.003)


def test_poisson_noise_counts_photons_with_mean_x_and_variance_x_over_peak():
    noisy = add_noise(grey(value=0.4), Noise("poisson", 30.0), generator())
    assert noisy.mean().item() == pytest.approx(0.4, rel=0.01)
    assert noisy.var().item() == pytest.approx(0.4 / 30, rel=0.03)
    counts = noisy * 30
    assert torch.allclose(counts, counts.round(), atol=1e-4)  # whole photon counts


def test_salt_and_pepper_sets_the_amount_of_pixels_to_black_or_white_in_all_channels():
    clean = torch.full((32, 3, 32, 32), 0.5)
    noisy = add_noise(clean, Noise("salt-pepper", 0.1), generator())
    hit = (noisy != 0.5).any(1)
    assert hit.float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert ((noisy == 0) | (noisy == 1)).all(1)[hit].all()  # a hit pixel: every channel
    assert (noisy[:, 0][hit] == 1).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_the_same_seed_gives_the_same_noise():
    clean = torch.rand(4, 1, 16, 16, generator=generator(3))
    spec = parse_noise("gaussian:0.1")
    assert torch.equal(add_noise(clean, spec, generator(5)), add_noise(clean, spec, generator(5)))
    assert not torch.equal(
        add_noise(clean, spec, generator(5)), add_noise(clean, spec, generator(6))
    )


def test_sample_noise_depends_on_the_index_not_on_the_batch():
    clean = torch.rand(10, 1, 16, 16, generator=generator(3))
    spec = parse_noise("poisson:10")
    whole = sample_noise(clean, torch.arange(10), spec, seed=7, salt=1)
    order = torch.tensor([9, 2, 5])
    assert torch.equal(sample_noise(clean[order], order, spec, seed=7, salt=1), whole[order])
    assert not torch.equal(sample_noise(clean, torch.arange(10), spec, seed=7, salt=2), whole)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("gaussian:0.2", Noise("gaussian", 0.2)), (" poisson:30 ", Noise("poisson", 30.0))],
)
def test_specs_are_parsed(spec, expected):
    assert parse_noise(spec) == expected
    assert str(parse_noise(spec)) == spec.strip()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gaussian", "is not kind:param"),
        ("speckle:0.1", "is not kind:param"),
        ("gaussian:abc", "is not a number"),
        ("gaussian:20", "in \\(0, 1\\]"),
        ("salt-pepper:1.5", "in \\(0, 1\\)"),
        ("poisson:-3", "> 0"),
    ],
)
def test_bad_specs_say_what_to_write(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_noise(spec)
