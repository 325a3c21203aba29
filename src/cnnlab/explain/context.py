"""What every explanation shares: model state that is always restored, the default layer.

Every explanation method runs inside `explaining`, which puts the model in
eval mode and stops gradients from accumulating in its parameters, and gives
both back afterwards, also when the method raises.  Activations of inner layers
are read with `cnnlab.nn.hooks`, whose hooks are removed on exit, also on
error, so that a model never keeps hooks from an explanation (a known pain point
of hook-based libraries).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.nn.hooks import trace_outputs
from cnnlab.nn.quantized import refuse_quantized


@contextlib.contextmanager
def explaining(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and frozen parameters for the duration of an explanation.

    Eval mode makes the explanation deterministic (dropout off, batch norm with
    its running statistics, so images in a batch do not influence each other);
    frozen parameters keep ``.grad`` of the weights untouched and save the memory
    of their gradients.  Both are restored on exit, also on error.  An int8 model
    is refused (`cnnlab.nn.quantized.refuse_quantized`).
    """
    refuse_quantized(model, "An explanation")
    modes = [(module, module.training) for module in model.modules()]
    flags = [(param, param.requires_grad) for param in model.parameters()]
    try:
        model.eval()
        for param, _ in flags:
            param.requires_grad_(False)
        yield model
    finally:
        for module, training in modes:
            module.training = training
        for param, requires_grad in flags:
            param.requires_grad_(requires_grad)


def last_spatial_layer(model: nn.Module, x: torch.Tensor) -> str:
    """Name of the last layer (in execution order) whose output is an (N, C, H, W) map, H·W > 1.

    The default layer of the class activation maps: the deepest layer that still
    has a spatial layout (Selvaraju et al. 2017, Sec. 3: "the last convolutional layer").
    """

    def spatial(module: nn.Module, output: torch.Tensor) -> bool:
        return output.dim() == 4 and output.shape[-2] * output.shape[-1] > 1

    calls = trace_outputs(model, x[:1], spatial)
    if not calls:
        raise ConfigError(
            "No layer of this model outputs a spatial (N, C, H, W) map larger than 1x1; "
            "pass layer= with the name of the layer to explain."
        )
    return calls[-1][0]
