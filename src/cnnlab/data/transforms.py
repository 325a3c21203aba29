"""Batched, on-device data augmentation for training.

Each transform takes a whole batch ``(B, C, H, W)`` (float in [0, 1]) and a
``torch.Generator`` and draws one random choice per image, without a Python
loop over images.  Label-preserving transforms only; they are named on the
command line as ``--augment flip,crop:4``:

- ``flip``: horizontal flip with probability 1/2 (Krizhevsky et al. 2012, Sec. 4.1).
- ``crop:P``: zero-pad by ``P`` pixels and crop back to the original size at a
  random offset, i.e. a random translation by up to ±P pixels (the standard
  CIFAR augmentation of He et al. 2016, Sec. 4.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError, UnknownNameError

BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
AUGMENTATIONS = ("flip", "crop")


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 1/2."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    return torch.where(flip.to(images.device)[:, None, None, None], images.flip(-1), images)


def random_crop(images: torch.Tensor, generator: torch.Generator, padding: int) -> torch.Tensor:
    """Zero-pad by ``padding`` and crop each image back at its own random offset."""
    if padding == 0:
        return images
    batch, _, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (batch,), generator=generator).to(images.device)
    dx = torch.randint(0, 2 * padding + 1, (batch,), generator=generator).to(images.device)
    rows = (dy[:, None] + torch.arange(height, device=images.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(width, device=images.device))[:, None, None, :]
    index = torch.arange(batch, device=images.device)[:, None, None, None]
    channels = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return padded[index, channels, rows, cols]


def _parse_int(name: str, arg: str | None, default: int) -> int:
    if arg is None:
        return default
    try:
        value = int(arg)
    except ValueError:
        raise ConfigError(
            f"Augmentation {name!r} takes an integer, e.g. {name}:4; got {arg!r}."
        ) from None
    if value < 0:
        raise ConfigError(f"Augmentation {name!r} needs a value >= 0, got {value}.")
    return value


def _build(spec: str) -> BatchTransform:
    name, _, arg = spec.strip().partition(":")
    if name == "flip":
        return random_flip
    if name == "crop":
        padding = _parse_int(name, arg or None, 4)
        return lambda images, generator: random_crop(images, generator, padding)
    raise UnknownNameError("augmentation", name, AUGMENTATIONS)


class Augment:
    """A sequence of batch transforms parsed from specs like ``["flip", "crop:4"]``."""

    def __init__(self, specs: Sequence[str]):
        self.transforms = [_build(spec) for spec in specs]

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for transform in self.transforms:
            images = transform(images, generator)
        return images

    def __bool__(self) -> bool:
        return bool(self.transforms)
