"""Fixtures of the attack tests: a trained digits model, its test images, a linear model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlab import load_run
from cnnlab.data import load_data


@pytest.fixture(scope="session")
def digits_model(digits_run) -> nn.Module:
    """The LeNet-5 of the shared ``digits_run`` fixture (about 93 % test accuracy)."""
    return load_run(digits_run).model


@pytest.fixture(scope="session")
def digits_test() -> tuple[torch.Tensor, torch.Tensor]:
    """All 359 digits test images in [0, 1] and their labels."""
    test = load_data("digits").test
    return test.images.float() / 255, test.labels


@pytest.fixture(scope="session")
def digits_batch(digits_test) -> tuple[torch.Tensor, torch.Tensor]:
    """The first 32 test images: enough for properties, fast for every attack."""
    images, labels = digits_test
    return images[:32], labels[:32]


def linear_binary_model(weight: torch.Tensor, bias: float) -> nn.Module:
    """Logits (0, w·x + b) for images shaped like ``weight``: f(x) = w·x + b is z_1 − z_0."""
    linear = nn.Linear(weight.numel(), 2)
    with torch.no_grad():
        linear.weight.copy_(torch.stack([torch.zeros(weight.numel()), weight.flatten()]))
        linear.bias.copy_(torch.tensor([0.0, bias]))
    return nn.Sequential(nn.Flatten(), linear).eval()
