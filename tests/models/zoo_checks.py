"""Checks shared by the model-family tests: torchvision parity, published figures.

Parameter and multiply-add counts are taken on the ``meta`` device (no memory,
no arithmetic), so they are cheap even for VGG-19 or DenseNet-264.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from cnnlab.metrics.cost import count_flops
from cnnlab.models import create_model
from cnnlab.models.registry import model_info


def meta_model(name: str, **kwargs) -> nn.Module:
    """The cnnlab model ``name`` with its reference options, built on the meta device."""
    info = model_info(name)
    with torch.device("meta"):
        return create_model(name, **{**info.kwargs, **kwargs})


def meta_torchvision_model(name: str, **kwargs) -> nn.Module:
    """The torchvision counterpart of ``name``, built on the meta device."""
    info = model_info(name)
    with torch.device("meta"):
        return torchvision.models.get_model(info.torchvision, **kwargs)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def multiply_adds(model: nn.Module, input_shape: tuple[int, int, int]) -> float:
    """Multiply-adds of one forward pass of one image, by cnnlab's counter (count_flops / 2);
    on the meta device for a model built there."""
    return count_flops(model, input_shape) / 2


def assert_same_logits_as_torchvision(
    name: str,
    tmp_path: Path,
    input_size: int = 64,
    atol: float = 1e-5,
    tv_kwargs: dict | None = None,
    **kwargs,
) -> None:
    """Random-initialised torchvision model -> saved .pth -> cnnlab model: same logits.

    Batch-norm running statistics are randomised too, so that a swapped mean and
    variance or a wrong epsilon would show.
    """
    info = model_info(name)
    torch.manual_seed(0)
    reference = torchvision.models.get_model(info.torchvision, **(tv_kwargs or {})).eval()
    for module in reference.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / f"{info.torchvision}.pth"
    torch.save(reference.state_dict(), path)
    model = create_model(name, weights=path, **{**info.kwargs, **kwargs}).eval()
    x = torch.rand(2, 3, input_size, input_size)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    scale = expected.abs().max().clamp_min(1.0)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=1e-5, atol=atol * float(scale)), (
        f"max |Δ| = {(got - expected).abs().max():.3g}"
    )
