"""Recognising an int8 model, which is for inference only.

A model quantized with the PT2E flow (`cnnlab.deploy.quantize`) is a
``torch.fx.GraphModule`` whose graph calls quantize/dequantize operators
(``quantized_decomposed.*``, torchao's); they have no gradients, and the
module cannot switch between train and eval mode.  Methods that need either
(explanations, attacks) call `refuse_quantized` first, so that the user
reads why and what to use, not PyTorch's "Calling eval() is not supported yet".
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.errors import ConfigError


def is_quantized(model: nn.Module) -> bool:
    """Whether a graph inside ``model`` calls a quantize or dequantize operator."""
    return any(
        node.op == "call_function" and "quantize" in str(node.target)
        for module in model.modules()
        if isinstance(module, torch.fx.GraphModule)
        for node in module.graph.nodes
    )


def refuse_quantized(model: nn.Module, what: str) -> None:
    """A ConfigError when ``model`` is an int8 model: ``what`` needs gradients."""
    if is_quantized(model):
        raise ConfigError(
            f"{what} needs the model's gradients, but this is an int8 model, and int8 models "
            "are for inference (their quantize/dequantize operations have no gradients). "
            "Use the fp32 model it was quantized from: load_run(RUN).model."
        )
