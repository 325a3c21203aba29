"""Tiny float64 models and images for the explain tests (float64 so results match to 1e-5)."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn


def tiny_cnn(
    in_chans: int = 3, classes: int = 3, inplace: bool = False, seed: int = 0
) -> nn.Sequential:
    """conv-relu-maxpool-conv-relu, global average pooling, linear: a GAP model in eval mode."""
    torch.manual_seed(seed)
    features = nn.Sequential(
        OrderedDict(
            c1=nn.Conv2d(in_chans, 4, 3, padding=1),
            r1=nn.ReLU(inplace),
            p1=nn.MaxPool2d(2),
            c2=nn.Conv2d(4, 6, 3, padding=1),
            r2=nn.ReLU(inplace),
        )
    )
    model = nn.Sequential(
        OrderedDict(
            features=features,
            gap=nn.AdaptiveAvgPool2d(1),
            flat=nn.Flatten(),
            fc=nn.Linear(6, classes),
        )
    )
    return model.double().eval()


def hooks_left(model: nn.Module) -> list[str]:
    """Names of submodules that still carry a forward, pre-forward or backward hook."""
    return [
        name or "<root>"
        for name, m in model.named_modules()
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
    ]


@pytest.fixture
def model() -> nn.Sequential:
    return tiny_cnn()


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def classes() -> torch.Tensor:
    return torch.tensor([0, 2])
