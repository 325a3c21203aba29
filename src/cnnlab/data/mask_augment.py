"""Augmentation of images with their segmentation masks: the same moves for both.

A geometric augmentation must move every pixel's label with the pixel.  The
transforms allowed here move pixels exactly, without interpolation: ``flip``
(mirror), ``crop:P`` (pad by P with zeros, crop back at a random offset: the
padding becomes background, class 0) and ``crop_reflect:P`` (the mirrored
border is mirrored in the mask too).  Each is run once on the image with its
mask stacked as one more channel, so both get the same random draw; class
numbers are exact in float32 up to 2^24.  Photometric transforms
(``brightness``, ``contrast``, ``saturation``, ``hue``) change the image only.
The others (rotations, zooms, erasing, policies) would interpolate or erase
labels and are refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cnnlab.data.transforms import Augment
from cnnlab.errors import ConfigError

MOVES_PIXELS = ("flip", "crop", "crop_reflect")
IMAGE_ONLY = ("brightness", "contrast", "saturation", "hue")


class MaskAugment:
    """Batched augmentation of ``(images, masks)`` (see the module docstring)."""

    def __init__(self, specs: Sequence[str] | str):
        self.augment = Augment(specs)
        names = [spec.partition(":")[0] for spec in self.augment.specs]
        refused = [name for name in names if name not in MOVES_PIXELS + IMAGE_ONLY]
        if refused:
            raise ConfigError(
                f"segmentation augmentation must move the masks exactly with the images; "
                f"{', '.join(refused)} would interpolate or erase labels. Use "
                f"{', '.join(MOVES_PIXELS)} (image and mask) or {', '.join(IMAGE_ONLY)} "
                "(image only)."
            )
        self.moves_mask = [name in MOVES_PIXELS for name in names]

    def __call__(
        self, images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``images`` ``(B, C, H, W)`` in [0, 1] and ``masks`` ``(B, H, W)``, augmented together."""
        channels = images.shape[1]
        joint = torch.cat([images, masks[:, None].to(images.dtype)], dim=1)
        for transform, moves_mask in zip(self.augment.transforms, self.moves_mask, strict=True):
            if moves_mask:
                joint = transform(joint, generator)
            else:
                joint = torch.cat(
                    [transform(joint[:, :channels], generator), joint[:, channels:]], 1
                )
        return joint[:, :channels], joint[:, channels].round().to(masks.dtype)

    def __bool__(self) -> bool:
        return bool(self.augment)
