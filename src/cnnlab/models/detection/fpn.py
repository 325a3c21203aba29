"""A zoo backbone's last stages and a light feature pyramid on top of them.

The backbone is any model of the zoo in its ``features_only`` form
(`cnnlab.models.create_model`); its last ``levels`` stages (C3-C5 of a
ResNet) feed a feature pyramid network (Lin, Dollár, Girshick, He, Hariharan &
Belongie 2017, "Feature Pyramid Networks for Object Detection", Sec. 3): a 1x1
lateral convolution per stage to ``width`` channels, a top-down pathway that
upsamples the coarser level by nearest neighbour and adds it, and a 3x3
convolution on each merged map.  "Light": no extra P6/P7 levels (RetinaNet's
Sec. 4 adds them for large objects) and a narrow ``width`` for small images.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.models.registry import create_model_for_input

DEFAULT_BACKBONE = "resnet18"
# A quarter-width ResNet-18 (16..128 channels): fast on two CPU cores at 96x96.
DEFAULT_BACKBONE_OPTIONS = {"widths": (16, 32, 64, 128), "stem_width": 16}


class FeaturePyramid(nn.Module):
    """Backbone ``name`` → the maps P of its last ``levels`` stages, ``width`` channels each.

    ``strides`` are the maps' reductions with respect to the input, finest first.
    """

    def __init__(
        self,
        name: str,
        in_chans: int,
        input_size: int,
        levels: int = 3,
        width: int = 64,
        options: dict[str, Any] | None = None,
    ):
        super().__init__()
        if options is None:
            options = DEFAULT_BACKBONE_OPTIONS if name == DEFAULT_BACKBONE else {}
        # All stages are computed up to the last one anyway; the pyramid uses the last few.
        self.body = create_model_for_input(
            name, 1, (in_chans, input_size, input_size), features_only=True, **options
        )
        self.levels = min(levels, len(self.body.feature_info))
        self.strides = self.body.feature_info.reduction()[-self.levels :]
        channels = self.body.feature_info.channels()[-self.levels :]
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels)
        self.smooth = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1) for _ in channels)
        self.width = width

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        stages = self.body(x)[-self.levels :]
        merged = [self.lateral[-1](stages[-1])]
        for lateral, stage in zip(self.lateral[-2::-1], stages[-2::-1], strict=True):
            top_down = F.interpolate(merged[0], size=stage.shape[-2:], mode="nearest")
            merged.insert(0, lateral(stage) + top_down)
        return [smooth(p) for smooth, p in zip(self.smooth, merged, strict=True)]
