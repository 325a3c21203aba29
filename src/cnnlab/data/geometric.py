"""Batched geometric augmentations: each image gets its own random transformation.

All functions take a float batch ``(B, C, H, W)`` in [0, 1] and a
``torch.Generator`` (on the CPU, so that a seed gives the same augmentation on
any device) and return a batch of the same shape.  Pixels that come from
outside the image are 0 (mirrored for ``random_crop(mode='reflect')``).  One
``affine_grid``/``grid_sample`` call warps the whole batch, so no Python loop
runs over images.

References: flips and translations, Krizhevsky, Sutskever & Hinton 2012,
Sec. 4.1; padding-and-crop, He et al. 2016, Sec. 4.2; random-resized crop
(8 %-100 % of the area, aspect 3/4-4/3), Szegedy et al. 2015, Sec. 6; rotation,
scaling, shear, Simard, Steinkraus & Platt 2003 ("Best practices for CNNs
applied to visual document analysis"); lens distortion, the radial model
r_d = r (1 + k r²) of Brown 1966.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 1/2."""
    return _flip_where(images, torch.rand(len(images), generator=generator) < 0.5)


def _flip_where(images: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images whose entry of the boolean ``flip`` (B,) is true."""
    return torch.where(flip.to(images.device)[:, None, None, None], images.flip(-1), images)


_PRIME = 2**31 - 1  # the Park-Miller modulus: every product below stays inside int64


def sample_coins(indices: torch.Tensor, seed: int) -> torch.Tensor:
    """A fair coin per sample index, fixed by ``(seed, index)``: the same on every call.

    A small integer hash (Lehmer multiplications modulo 2³¹ − 1 with xor-shifts
    between them), so that a sample's coin needs neither a generator nor the size
    of the data set; consecutive indices (a class stored in one block) still get
    independent-looking coins.
    """
    x = (indices.long() + (seed % _PRIME) * 16807 + 1) % _PRIME
    for _ in range(3):
        x = (x * 48271) % _PRIME
        x = x ^ (x >> 13)
    return (x >> 7) & 1 == 1


def alternating_flip(
    images: torch.Tensor, indices: torch.Tensor, epoch: int, seed: int
) -> torch.Tensor:
    """Flip sample ``i`` in epoch ``e`` iff ``c_i xor (e mod 2)``, ``c_i`` a fair coin per sample.

    Epoch 0 flips a random half, as `random_flip` does; every later epoch shows
    each image the other way round from the epoch before, so any two consecutive
    epochs see both orientations of every image exactly once instead of repeating an
    orientation with probability 1/2 (K. Jordan, "94 % on CIFAR-10 in 3.29 seconds on
    a single GPU", arXiv:2404.00498, 2024: "alternating flip").  ``indices`` are the
    batch's positions in the training set, ``seed`` chooses the coins.
    """
    return _flip_where(images, sample_coins(indices, seed) ^ bool(epoch % 2))


def random_crop(
    images: torch.Tensor, generator: torch.Generator, padding: int, mode: str = "constant"
) -> torch.Tensor:
    """Pad by ``padding`` and crop each image back at its own random offset.

    ``mode`` 'constant' pads with zeros (He et al. 2016, Sec. 4.2); 'reflect' mirrors the
    border without repeating it (torchvision's ``RandomCrop(padding_mode='reflect')``), so
    that a shifted image shows no black frame.
    """
    if padding == 0:
        return images
    batch, _, height, width = images.shape
    if mode == "reflect" and padding >= min(height, width):
        raise ConfigError(
            f"Reflection padding by {padding} px needs images larger than that, got "
            f"{height}x{width}; use a padding under {min(height, width)} or zero padding (crop)."
        )
    padded = F.pad(images, (padding, padding, padding, padding), mode=mode)
    dy = torch.randint(0, 2 * padding + 1, (batch,), generator=generator).to(images.device)
    dx = torch.randint(0, 2 * padding + 1, (batch,), generator=generator).to(images.device)
    rows = (dy[:, None] + torch.arange(height, device=images.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(width, device=images.device))[:, None, None, :]
    index = torch.arange(batch, device=images.device)[:, None, None, None]
    channels = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return padded[index, channels, rows, cols]


def warp_affine(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Sample each image at ``theta[b] @ (x, y, 1)`` in normalized [-1, 1] coordinates."""
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def affine_matrices(
    angle_deg: torch.Tensor,
    translate: torch.Tensor,
    scale: torch.Tensor,
    shear_deg: torch.Tensor,
) -> torch.Tensor:
    """Inverse maps (output → input coordinates) of rotation·shear·scale then translation.

    ``translate`` is ``(B, 2)`` as fractions of the half-size (normalized units);
    the forward map is x' = T + s R(θ) S(φ) x, so the sampling grid uses its inverse.
    Positive angles turn the image counter-clockwise on screen (as torchvision's
    ``rotate``); with y pointing down that is R(−θ).
    """
    a, s = -torch.deg2rad(angle_deg), torch.deg2rad(shear_deg)
    cos, sin = torch.cos(a), torch.sin(a)
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    shear = torch.zeros_like(rotation)
    shear[:, 0, 0], shear[:, 1, 1], shear[:, 0, 1] = 1.0, 1.0, torch.tan(s)
    forward = scale[:, None, None] * rotation @ shear
    inverse = torch.linalg.inv(forward)
    offset = -(inverse @ translate[:, :, None])
    return torch.cat([inverse, offset], dim=2)


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    degrees: float = 0.0,
    translate: float = 0.0,
    scale: float = 0.0,
    shear: float = 0.0,
) -> torch.Tensor:
    """Rotate by U(±degrees), shift by U(±translate)·size, scale by U(1 ± scale), shear by
    U(±shear) degrees, each drawn per image."""
    n = len(images)
    theta = affine_matrices(
        _uniform(n, -degrees, degrees, generator),
        _uniform(2 * n, -2 * translate, 2 * translate, generator).view(n, 2),
        _uniform(n, 1 - scale, 1 + scale, generator),
        _uniform(n, -shear, shear, generator),
    )
    return warp_affine(images, theta)


def random_resized_crop(
    images: torch.Tensor,
    generator: torch.Generator,
    min_area: float = 0.08,
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """Crop a random area fraction U(min_area, 1) with log-uniform aspect ratio, resize back.

    Crops that would not fit are shrunk to fit instead of redrawn (no loop).
    """
    n = len(images)
    area = _uniform(n, min_area, 1.0, generator)
    log_ratio = _uniform(n, math.log(ratio[0]), math.log(ratio[1]), generator)
    aspect = torch.exp(log_ratio)
    width = torch.sqrt(area * aspect).clamp(max=1.0)
    height = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = _uniform(n, 0, 1, generator) * (1 - width) * 2 - (1 - width)
    cy = _uniform(n, 0, 1, generator) * (1 - height) * 2 - (1 - height)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = width, height
    theta[:, 0, 2], theta[:, 1, 2] = cx, cy
    return warp_affine(images, theta)


def lens_distortion(images: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Radial distortion: the output at radius r samples the input at r (1 + k r²).

    ``k > 0`` shrinks the centre (barrel), ``k < 0`` magnifies it (pincushion);
    radii are normalized so that the image corners are at r = √2.
    """
    height, width = images.shape[-2:]
    ys = torch.linspace(-1 + 1 / height, 1 - 1 / height, height, device=images.device)
    xs = torch.linspace(-1 + 1 / width, 1 - 1 / width, width, device=images.device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    r2 = (grid_x**2 + grid_y**2)[None]
    factor = 1 + k.to(images.device, images.dtype)[:, None, None] * r2
    grid = torch.stack([grid_x[None] * factor, grid_y[None] * factor], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_lens(images: torch.Tensor, generator: torch.Generator, strength: float) -> torch.Tensor:
    """`lens_distortion` with k ~ U(−strength, strength) per image."""
    return lens_distortion(images, _uniform(len(images), -strength, strength, generator))
