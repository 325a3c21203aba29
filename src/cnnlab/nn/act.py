"""Activation registry: ``get_act('relu')`` returns a fresh ``nn.Module``.

One place that maps activation names to modules, so that a model says *which*
nonlinearity it uses and never *how* it is built.  Besides PyTorch's own
activations the registry holds

* ``scaled_tanh``: f(a) = A·tanh(S·a) with A = 1.7159, S = 2/3 (LeCun, Bottou,
  Bengio & Haffner 1998, "Gradient-based learning applied to document
  recognition", Appendix A; LeCun et al. 1998, "Efficient BackProp", Sec. 4.4):
  chosen so that f(±1) = ±1 and the gain is close to 1 around the origin;
* ``maxout``: the maximum over groups of k channels (Goodfellow, Warde-Farley,
  Mirza, Courville & Bengio 2013, "Maxout networks", eq. 1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cnnlab.errors import ConfigError, UnknownNameError


class ScaledTanh(nn.Module):
    """f(a) = amplitude·tanh(slope·a); LeCun et al. (1998) use 1.7159 and 2/3."""

    def __init__(self, amplitude: float = 1.7159, slope: float = 2 / 3):
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.amplitude * torch.tanh(self.slope * x)

    def extra_repr(self) -> str:
        return f"amplitude={self.amplitude}, slope={self.slope:.4g}"


class Maxout(nn.Module):
    """Maximum over consecutive groups of ``pieces`` channels: C channels -> C/pieces.

    Goodfellow et al. (2013), eq. 1: h_i = max_j z_ij, where z_i1..z_ik are k
    linear (here: convolutional) pieces computed by the preceding layer.
    """

    def __init__(self, pieces: int = 2):
        super().__init__()
        if pieces < 1:
            raise ConfigError(f"Maxout pieces must be >= 1, got {pieces}.")
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        if channels % self.pieces:
            raise ConfigError(
                f"Maxout with {self.pieces} pieces needs a channel count divisible by "
                f"{self.pieces}, got {channels}; give the previous layer "
                f"{self.pieces} x (output channels) channels."
            )
        grouped = x.reshape(x.shape[0], channels // self.pieces, self.pieces, *x.shape[2:])
        return grouped.amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


_ACTS: dict[str, Callable[..., nn.Module]] = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "scaled_tanh": ScaledTanh,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "hard_swish": nn.Hardswish,
    "hard_sigmoid": nn.Hardsigmoid,
    "mish": nn.Mish,
    "maxout": Maxout,
}


def list_acts() -> list[str]:
    """Names accepted by :func:`get_act`, sorted."""
    return sorted(_ACTS)


def get_act(name: str, **kwargs) -> nn.Module:
    """A new activation module ``name`` built with ``kwargs`` (e.g. ``negative_slope``).

    Raises :class:`UnknownNameError` listing the valid names for an unknown
    name, :class:`ConfigError` for options the activation does not take.
    """
    if name not in _ACTS:
        raise UnknownNameError("activation", name, _ACTS)
    try:
        return _ACTS[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"Bad options {kwargs} for activation {name!r}: {exc}.") from exc
