"""Test-time augmentation: average the class probabilities over several views.

The views follow the training augmentation: a model sees at test time only
the kinds of images it was trained on.

* ``flip``: the image and its mirror image, for runs trained with flips;
* ``crops``: AlexNet's views (Krizhevsky, Sutskever & Hinton 2012, Sec. 4.1:
  "the four corner patches and the center patch as well as their horizontal
  reflections"), taken from the image zero-padded so that every view keeps the
  model's input size.  The padding is the training crop's (``crop:P``,
  ``crop_reflect:P``, or ``translate:f`` times the side); the reflections are
  added only when training flipped.  A run trained without shifts gets the
  centre view only (and its mirror if it was trained with flips): digits must
  not be mirrored, and shifts it never saw lower its accuracy.

Without the training augmentation (``augment=None``, the API on a bare model)
the views are the paper's: reflections and a padding of 1/8 of the side.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError, check_choice

TTA_MODES = ("flip", "crops")
_FLIPS = ("flip", "alternating_flip")
_SHIFTS = ("crop", "crop_reflect")


def tta_views(
    images: torch.Tensor, mode: str, augment: Sequence[str] | None = None
) -> list[torch.Tensor]:
    """The batches a model sees for one batch of ``images`` under ``mode``.

    ``augment``: the run's training augmentation specs (``["crop:4"]``); None for
    the paper's views.  ``flip`` on a run trained without flips is refused.
    """
    check_choice("test-time augmentation", mode, TTA_MODES)
    mirror = augment is None or any(_name(spec) in _FLIPS for spec in augment)
    if mode == "flip":
        if not mirror:
            raise ConfigError(
                "--tta flip: this run was trained without flips (augment "
                f"{list(augment or [])}), so its mirrored views are images it never saw; "
                "use --tta crops (shifted views as in training) or no --tta."
            )
        return [images, images.flip(-1)]
    height, width = images.shape[-2:]
    pad = _padding(augment, height, width)
    padded = F.pad(images, (pad[1], pad[1], pad[0], pad[0]))
    corners = [(0, 0), (0, 2 * pad[1]), (2 * pad[0], 0), (2 * pad[0], 2 * pad[1])]
    offsets = ([] if pad == (0, 0) else corners) + [pad]
    crops = [padded[..., dy : dy + height, dx : dx + width] for dy, dx in offsets]
    return crops + ([crop.flip(-1) for crop in crops] if mirror else [])


@torch.inference_mode()
def tta_probabilities(
    model: nn.Module,
    images: torch.Tensor,
    mode: str | None,
    augment: Sequence[str] | None = None,
) -> torch.Tensor:
    """Softmax probabilities of ``model`` averaged over the views of ``mode`` (None: one view)."""
    views = [images] if mode is None else tta_views(images, mode, augment)
    return torch.stack([torch.softmax(model(v).float(), dim=1) for v in views]).mean(0)


def _name(spec: str) -> str:
    return spec.partition(":")[0].strip()


def _padding(augment: Sequence[str] | None, height: int, width: int) -> tuple[int, int]:
    """(rows, columns) of zero padding: the training shift, or 1/8 of the side without one."""
    if augment is None:
        return max(1, height // 8), max(1, width // 8)
    for spec in augment:
        name, _, value = spec.partition(":")
        if name.strip() in _SHIFTS:
            pixels = int(value or 4)  # the crop's default padding (data.transforms)
            return pixels, pixels
        if name.strip() == "translate":
            fraction = float(value or 0.1)
            return round(fraction * height), round(fraction * width)
    return 0, 0
