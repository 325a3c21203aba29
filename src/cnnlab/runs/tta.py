"""Test-time augmentation: average the class probabilities over several views.

``flip``: the image and its mirror image.  ``crops``: AlexNet's ten views
(Krizhevsky, Sutskever & Hinton 2012, Sec. 4.1: "the four corner patches and
the center patch as well as their horizontal reflections"), taken here from
the image zero-padded by 1/8 of its size so that every view keeps the model's
input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import check_choice

TTA_MODES = ("flip", "crops")


def tta_views(images: torch.Tensor, mode: str) -> list[torch.Tensor]:
    """The batches a model sees for one batch of ``images`` under ``mode``."""
    check_choice("test-time augmentation", mode, TTA_MODES)
    if mode == "flip":
        return [images, images.flip(-1)]
    height, width = images.shape[-2:]
    pad = max(1, height // 8), max(1, width // 8)
    padded = F.pad(images, (pad[1], pad[1], pad[0], pad[0]))
    offsets = [(0, 0), (0, 2 * pad[1]), (2 * pad[0], 0), (2 * pad[0], 2 * pad[1]), pad]
    crops = [padded[..., dy : dy + height, dx : dx + width] for dy, dx in offsets]
    return crops + [crop.flip(-1) for crop in crops]


@torch.inference_mode()
def tta_probabilities(model: nn.Module, images: torch.Tensor, mode: str | None) -> torch.Tensor:
    """Softmax probabilities of ``model`` averaged over the views of ``mode`` (None: one view)."""
    views = [images] if mode is None else tta_views(images, mode)
    return torch.stack([torch.softmax(model(v).float(), dim=1) for v in views]).mean(0)
