"""Weight initialization schemes, chosen by name (``--init NAME``).

* ``normal``: N(0, 0.01²), the "small random numbers" of the lecture, which
  makes the activations of a deep tanh network collapse to zero.
* ``xavier_uniform`` / ``xavier_normal``: Var(w) = 2 / (fan_in + fan_out)
  (Glorot & Bengio 2010, eq. 16).
* ``kaiming_uniform`` / ``kaiming_normal``: Var(w) = 2 / fan_in for ReLU
  (He, Zhang, Ren & Sun 2015, "Delving deep into rectifiers", eq. 10).
* ``orthogonal``: a (scaled) orthogonal matrix (Saxe, McClelland & Ganguli 2014).
* ``lsuv``: layer-sequential unit-variance (Mishkin & Matas 2016, Alg. 1):
  orthogonal init, then, layer by layer in forward order, rescale the weights
  until the layer's output variance on a data batch is 1 (within ``tol``).

Biases are set to zero; normalization layers keep weight 1 and bias 0.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice
from cnnlab.nn.hooks import capture_activations

INITS = (
    "normal",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "orthogonal",
    "lsuv",
)
_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.ConvTranspose2d)


def _weighted_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, _WEIGHTED)]


def _init_weight(weight: torch.Tensor, scheme: str) -> None:
    if scheme == "normal":
        nn.init.normal_(weight, 0.0, 0.01)
    elif scheme == "xavier_uniform":
        nn.init.xavier_uniform_(weight)
    elif scheme == "xavier_normal":
        nn.init.xavier_normal_(weight)
    elif scheme == "kaiming_uniform":
        nn.init.kaiming_uniform_(weight, nonlinearity="relu")
    elif scheme == "kaiming_normal":
        nn.init.kaiming_normal_(weight, nonlinearity="relu")
    else:  # orthogonal, also LSUV's starting point
        nn.init.orthogonal_(weight)


@torch.no_grad()
def initialize(
    model: nn.Module,
    scheme: str,
    data: torch.Tensor | None = None,
    tol: float = 0.1,
    max_iters: int = 10,
) -> nn.Module:
    """Re-initialise the weights of ``model`` in place with ``scheme``; returns ``model``.

    ``data`` is a batch of inputs, needed by ``lsuv``.
    """
    check_choice("initialization", scheme, INITS)
    layers = _weighted_layers(model)
    for layer in layers:
        _init_weight(layer.weight, scheme)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    if scheme == "lsuv":
        if data is None:
            raise ConfigError("LSUV initialization needs a batch of data (data=...).")
        _lsuv(model, layers, data, tol, max_iters)
    return model


def _lsuv(model, layers, data, tol, max_iters) -> None:
    """Mishkin & Matas (2016), Alg. 1: scale each layer until Var(output) ≈ 1."""
    was_training = model.training
    model.eval()
    try:
        for layer in layers:
            with capture_activations(model, [layer]) as output:
                for _ in range(max_iters):
                    model(data)
                    std = output[layer].std()
                    if abs(std.item() ** 2 - 1.0) < tol or std.item() == 0:
                        break
                    layer.weight.div_(std)
    finally:
        model.train(was_training)
