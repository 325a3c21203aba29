"""The shape every cnnlab classifier has: ``features`` (conv part), then ``head``.

``model.features(x)`` gives the feature maps, so a backbone can be reused
(transfer learning, explanation methods hooking the last conv layer);
``model.head`` maps them to class scores and is the part to replace for a new
task.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.errors import GeometryError


class Classifier(nn.Module):
    """``head(features(x))``, optionally checking the input shape (C, H, W).

    Models whose head depends on the feature-map size (a flatten followed by a
    linear layer) pass ``input_shape`` so that a wrong input raises a
    :class:`GeometryError` that says which size the model was built for.
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
