"""The shape every cnnlab classifier has: ``features`` (conv part), then ``head``.

``model.features(x)`` gives the feature maps, so a backbone can be reused
(transfer learning, explanation methods hooking the last conv layer);
``model.head`` maps them to class scores and is the part to replace for a new
task.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError


class AuxLogits(NamedTuple):
    """Training-mode output of a network with auxiliary classifiers.

    GoogLeNet (Szegedy et al. 2015, Sec. 5) adds the losses of two auxiliary
    classifiers on intermediate layers to the main loss with weight 0.3; the
    Trainer computes ``loss(logits) + aux_weight · Σ loss(aux_i)``.  In eval
    mode such models return plain logits.
    """

    logits: torch.Tensor
    aux: tuple[torch.Tensor, ...]
    aux_weight: float


class Classifier(nn.Module):
    """``head(features(x))``, optionally checking the input shape (C, H, W).

    Models whose head depends on the feature-map size (a flatten followed by a
    linear layer) pass ``input_shape`` so that a wrong input raises a
    `GeometryError` that says which size the model was built for.
    """

    def __init__(
        self,
        features: nn.Module,
        head: nn.Module,
        input_shape: tuple[int, int, int] | None = None,
    ):
        super().__init__()
        self.features = features
        self.head = head
        self.input_shape = input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            c, h, w = self.input_shape
            got = "x".join(map(str, x.shape[1:]))
            raise GeometryError(
                f"This {type(self).__name__} was built for {c}x{h}x{w} inputs, got {got}. "
                f"Build it for this size (in_chans={x.shape[1]}, input_size={x.shape[-1]}) "
                "or resize the images."
            )
        return self.head(self.features(x))


IMAGENET_MIN_SIZE = 64  # inputs up to this side length get a CIFAR stem when none is chosen


def resolve_stem(stem: str | None, input_size: int | None) -> str:
    """``'cifar'`` or ``'imagenet'``: the stem asked for, else the one that suits the input.

    An ImageNet stem (7x7 stride-2 conv, then a stride-2 max pool) shrinks a
    32x32 image to 8x8 before the first block and costs most of the accuracy on
    CIFAR; the CIFAR form (a 3x3 stride-1 conv, no max pool; He et al. 2016,
    Sec. 4.2) keeps the resolution.  ``stem=None`` picks ``'cifar'`` for inputs
    of at most 64 pixels.
    """
    if stem is None:
        return "cifar" if input_size is not None and input_size <= IMAGENET_MIN_SIZE else "imagenet"
    if stem not in ("cifar", "imagenet"):
        raise ConfigError(f"stem must be 'cifar', 'imagenet' or None (automatic), got {stem!r}.")
    return stem


def check_input_size(model_name: str, input_size: int | None, minimum: int) -> None:
    """Raise a `GeometryError` naming the minimum when ``input_size`` is too small."""
    if input_size is not None and input_size < minimum:
        raise GeometryError(
            f"{model_name} needs inputs of at least {minimum}x{minimum} pixels, got "
            f"{input_size}x{input_size}. Resize the images or choose a CIFAR-sized model."
        )
