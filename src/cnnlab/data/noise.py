"""Noise models for image restoration, on images in [0, 1], drawn from explicit seeds.

A noise model is written ``kind:param`` (the ``--noise`` option):

- ``gaussian:SIGMA`` — additive white Gaussian noise, y = x + σ·n, n ~ N(0, 1).
  The result is **not** clipped to [0, 1]: clipping would make the noise
  signal-dependent with a non-zero mean near black and white (σ/√(2π) at 0),
  which breaks the zero-mean assumption that Noise2Void rests on (Krull et al.
  2019, Sec. 3: E[y | x] = x).
- ``poisson:PEAK`` — shot noise: y = Poisson(PEAK · x) / PEAK, so a pixel of
  value 1 counts PEAK photons on average (smaller PEAK, more noise; zero-mean
  given x, like Gaussian noise).
- ``salt-pepper:AMOUNT`` — impulse noise: each pixel (all its channels) is set
  to 0 or 1, with equal probability, with probability AMOUNT.

Determinism: `add_noise` draws from one generator for a whole batch
(fresh noise every epoch when the generator is the epoch's);
`sample_noise` draws each sample's noise from a generator seeded with
``(seed, salt, index)`` alone, so sample ``index`` gets the same noise whatever
batch it falls in and whichever epoch it is: a fixed noisy copy of a data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cnnlab.errors import ConfigError

NOISE_KINDS = {
    "gaussian": "the standard deviation σ in pixel units, in (0, 1], e.g. gaussian:0.2",
    "poisson": "the photon count of a white pixel (peak), > 0, e.g. poisson:30",
    "salt-pepper": "the fraction of pixels set to 0 or 1, in (0, 1), e.g. salt-pepper:0.1",
}


@dataclass(frozen=True)
class Noise:
    """A noise model: ``kind`` (one of `NOISE_KINDS`) and its parameter."""

    kind: str
    param: float

    def __str__(self) -> str:
        return f"{self.kind}:{self.param:g}"


def parse_noise(spec: str) -> Noise:
    """The `Noise` of a ``kind:param`` string; a `ConfigError` says what is wrong."""
    kind, sep, text = str(spec).strip().partition(":")
    if kind not in NOISE_KINDS or not sep:
        raise ConfigError(
            f"noise {spec!r} is not kind:param. Write gaussian:SIGMA (e.g. gaussian:0.2), "
            "poisson:PEAK (e.g. poisson:30) or salt-pepper:AMOUNT (e.g. salt-pepper:0.1)."
        )
    try:
        param = float(text)
    except ValueError:
        raise ConfigError(
            f"noise {spec!r}: {text!r} is not a number; {kind} takes {NOISE_KINDS[kind]}."
        ) from None
    ok = {
        "gaussian": 0.0 < param <= 1.0,
        "poisson": 0.0 < param < float("inf"),
        "salt-pepper": 0.0 < param < 1.0,
    }[kind]
    if not ok:
        raise ConfigError(f"noise {spec!r}: {kind} takes {NOISE_KINDS[kind]}, got {param!r}.")
    return Noise(kind, param)


def add_noise(images: torch.Tensor, noise: Noise, generator: torch.Generator) -> torch.Tensor:
    """``images`` (``(..., C, H, W)`` in [0, 1]) with ``noise`` drawn from ``generator``.

    The draws are made on the CPU (``generator`` is a CPU generator) and moved
    to the images' device, so a seed gives the same noise on every device.
    """
    x = images.detach().float().cpu()
    if noise.kind == "gaussian":
        noisy = x + noise.param * torch.randn(x.shape, generator=generator)
    elif noise.kind == "poisson":
        noisy = torch.poisson(x.clamp(min=0) * noise.param, generator=generator) / noise.param
    else:
        pixel_shape = (*x.shape[:-3], 1, *x.shape[-2:])
        hit = torch.rand(pixel_shape, generator=generator) < noise.param
        salt = torch.rand(pixel_shape, generator=generator) < 0.5
        noisy = torch.where(hit, salt.float(), x)
    return noisy.to(images.device)


def sample_generator(seed: int, salt: int, index: int) -> torch.Generator:
    """A CPU generator fixed by ``(seed, salt, index)`` alone."""
    state = np.random.SeedSequence([seed, salt, index]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


def sample_noise(
    images: torch.Tensor, indices: torch.Tensor, noise: Noise, seed: int, salt: int = 0
) -> torch.Tensor:
    """``images`` with each row's noise fixed by ``(seed, salt, its data set index)``."""
    rows = [
        add_noise(image, noise, sample_generator(seed, salt, int(index)))
        for image, index in zip(images, indices, strict=True)
    ]
    return torch.stack(rows) if rows else images.float().clone()
