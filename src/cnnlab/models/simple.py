"""A small configurable CNN: a stage of conv-norm-act + 2x2 pooling per width.

The configuration is data: ``channels=(32, 64)`` gives two stages of 32 and 64
maps.  Global average pooling (Lin, Chen & Yan 2014, "Network in network",
Sec. 3.2) before the linear classifier makes the model independent of the
input size (at least 2**len(channels) pixels per side).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from cnnlab.models.base import Classifier
from cnnlab.models.registry import register_model
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.drop import DropConnectLinear
from cnnlab.nn.pool import GlobalAvgPool2d, get_pool


class SimpleCNN(Classifier):
    """Stages of ConvNormAct(kernel, 'same') + pooling, then GAP, dropout, linear."""

    def __init__(
        self,
        num_classes: int = 10,
        in_chans: int = 1,
        channels: Sequence[int] = (32, 64),
        kernel: int = 3,
        bn: bool = True,
        act: str = "relu",
        dropout: float = 0.0,
        pool: str = "max",
        dropconnect: float = 0.0,
    ):
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        width_in = in_chans
        for i, width in enumerate(channels, start=1):
            stages[f"conv{i}"] = ConvNormAct(
                width_in, width, kernel, norm="batch" if bn else None, act=act
            )
            stages[f"pool{i}"] = get_pool(pool, 2)
            width_in = width
        head: OrderedDict[str, nn.Module] = OrderedDict(gap=GlobalAvgPool2d())
        if dropout > 0:
            head["drop"] = nn.Dropout(dropout)
        head["fc"] = (
            DropConnectLinear(width_in, num_classes, dropconnect)
            if dropconnect > 0
            else nn.Linear(width_in, num_classes)
        )
        super().__init__(nn.Sequential(stages), nn.Sequential(head))


@register_model
def simple_cnn(
    num_classes: int = 10,
    in_chans: int = 1,
    channels: Sequence[int] = (32, 64),
    kernel: int = 3,
    bn: bool = True,
    act: str = "relu",
    dropout: float = 0.0,
    pool: str = "max",
    dropconnect: float = 0.0,
) -> SimpleCNN:
    """A small configurable CNN: conv-BN-ReLU-pool stages, global average pooling, linear.

    ``channels`` lists the width of each stage; ``pool`` is ``'max'`` or ``'avg'``;
    ``dropconnect`` > 0 drops the classifier's weights with that probability in
    training (Wan et al. 2013).
    """
    return SimpleCNN(num_classes, in_chans, channels, kernel, bn, act, dropout, pool, dropconnect)
