"""Batched photometric augmentations: colour jitter and AlexNet's PCA lighting noise.

Each image gets its own random factor.  Brightness, contrast and saturation
follow torchvision's ``ColorJitter`` definitions (blend with black, with the
image's mean grey level, with its grey version; the grey level is
0.2989 R + 0.587 G + 0.114 B, ITU-R BT.601 as in torchvision), hue shifts the H channel of HSV.
Saturation and hue leave single-channel images unchanged.

PCA lighting (Krizhevsky, Sutskever & Hinton 2012, Sec. 4.1): add
Σ_i α_i λ_i p_i to every pixel, where p_i, λ_i are the eigenvectors and
eigenvalues of the 3x3 covariance of the training set's RGB values and
α_i ~ N(0, σ²), σ = 0.1, drawn once per image.
"""

from __future__ import annotations

import torch

_GREY = (0.2989, 0.587, 0.114)  # as torchvision rgb_to_grayscale


def _factors(n: int, spread: float, generator: torch.Generator, like: torch.Tensor):
    values = 1 + spread * (2 * torch.rand(n, generator=generator) - 1)
    return values.clamp_min(0).to(like.device, like.dtype)[:, None, None, None]


def grey(images: torch.Tensor) -> torch.Tensor:
    """Luma of RGB images (B, 1, H, W); single-channel images are returned as they are."""
    if images.shape[1] != 3:
        return images
    weights = images.new_tensor(_GREY)[None, :, None, None]
    return (images * weights).sum(dim=1, keepdim=True)


def _blend(images: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (factor * images + (1 - factor) * other).clamp(0, 1)


def random_brightness(images: torch.Tensor, generator: torch.Generator, spread: float):
    """Multiply by U(1 − spread, 1 + spread)."""
    factor = _factors(len(images), spread, generator, images)
    return _blend(images, torch.zeros_like(images), factor)


def random_contrast(images: torch.Tensor, generator: torch.Generator, spread: float):
    """Blend with the image's mean grey level, factor U(1 − spread, 1 + spread)."""
    factor = _factors(len(images), spread, generator, images)
    mean = grey(images).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(images, mean.expand_as(images), factor)


def random_saturation(images: torch.Tensor, generator: torch.Generator, spread: float):
    """Blend with the grey image, factor U(1 − spread, 1 + spread)."""
    if images.shape[1] != 3:
        return images
    factor = _factors(len(images), spread, generator, images)
    return _blend(images, grey(images).expand_as(images), factor)


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] → HSV with H in [0, 1) (fraction of a turn)."""
    r, g, b = images.unbind(1)
    value, argmax = images.max(dim=1)
    chroma = value - images.min(dim=1).values
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.where(
        argmax == 0,
        ((g - b) / safe) % 6,
        torch.where(argmax == 1, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    hue = torch.where(chroma > 0, hue / 6, torch.zeros_like(hue)) % 1.0
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value, 1), 0)
    return torch.stack([hue, saturation, value], dim=1)


def hsv_to_rgb(images: torch.Tensor) -> torch.Tensor:
    """Inverse of `rgb_to_hsv`."""
    hue, saturation, value = images.unbind(1)
    k = (
        torch.tensor([5.0, 3.0, 1.0], device=images.device)[None, :, None, None] + 6 * hue[:, None]
    ) % 6
    ramp = torch.minimum(k, 4 - k).clamp(0, 1)
    return value[:, None] - value[:, None] * saturation[:, None] * ramp


def random_hue(images: torch.Tensor, generator: torch.Generator, spread: float):
    """Rotate the hue by U(−spread, spread) of a turn (spread ≤ 0.5)."""
    if images.shape[1] != 3:
        return images
    shift = spread * (2 * torch.rand(len(images), generator=generator) - 1)
    hsv = rgb_to_hsv(images)
    hue = (hsv[:, 0] + shift.to(images.device, images.dtype)[:, None, None]) % 1.0
    return hsv_to_rgb(torch.stack([hue, hsv[:, 1], hsv[:, 2]], dim=1)).clamp(0, 1)


def lighting_basis(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors (columns) of the channel covariance of ``images``.

    ``images`` is a training set (N, C, H, W), uint8 or float in [0, 1].
    """
    pixels = images.movedim(1, -1).reshape(-1, images.shape[1]).double()
    if not images.is_floating_point():
        pixels = pixels / 255.0
    eigenvalues, eigenvectors = torch.linalg.eigh(torch.cov(pixels.T).reshape(images.shape[1], -1))
    return eigenvalues.clamp_min(0).float(), eigenvectors.float()


def pca_lighting(
    images: torch.Tensor,
    generator: torch.Generator,
    basis: tuple[torch.Tensor, torch.Tensor],
    std: float = 0.1,
) -> torch.Tensor:
    """Add Σ_i α_i λ_i p_i to every pixel, α_i ~ N(0, std²) per image (AlexNet Sec. 4.1)."""
    eigenvalues, eigenvectors = basis
    alpha = std * torch.randn(len(images), len(eigenvalues), generator=generator)
    shift = (alpha * eigenvalues) @ eigenvectors.T
    return (images + shift.to(images.device, images.dtype)[:, :, None, None]).clamp(0, 1)
