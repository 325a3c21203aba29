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

``tanh`` and ``scaled_tanh`` are computed on the CPU through the identity
tanh(a) = 2·σ(2a) − 1: the same function (float32 results within 3e-7 of
``torch.tanh``), but PyTorch's CPU tanh kernel is about nine times slower than
its sigmoid kernel, so that the identity computes tanh 3.9x faster forward and
2.2x faster forward and backward (64x6x28x28 floats, AVX-512, torch 2.14:
``benchmarks/kernels.py``), and LeNet-5 applies it six times.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from cnnlab.errors import ConfigError, UnknownNameError


class _SigmoidTanh(torch.autograd.Function):
    """amplitude·tanh(slope·x) = 2·amplitude·σ(2·slope·x) − amplitude, keeping σ for backward.

    d/dx = 4·amplitude·slope·σ(1 − σ): five passes over the tensor (forward and backward)
    instead of the seven of the same formula left to autograd.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, amplitude: float, slope: float) -> torch.Tensor:
        sigma = (x * (2 * slope)).sigmoid_()
        ctx.save_for_backward(sigma)
        ctx.gain = 4 * amplitude * slope
        return sigma.mul(2 * amplitude).sub_(amplitude)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (sigma,) = ctx.saved_tensors
        return torch.ops.aten.sigmoid_backward(grad, sigma).mul_(ctx.gain), None, None


def scaled_tanh(x: torch.Tensor, amplitude: float = 1.0, slope: float = 1.0) -> torch.Tensor:
    """amplitude·tanh(slope·x), through the sigmoid on the CPU (see the module docs).

    On other devices, where tanh is one fast kernel, this is ``torch.tanh``.  The CPU
    form supports first derivatives only (it raises on double backward).
    """
    if x.device.type != "cpu":
        return amplitude * torch.tanh(slope * x)
    return _SigmoidTanh.apply(x, amplitude, slope)


class Tanh(nn.Tanh):
    """``nn.Tanh`` computed as 2·σ(2a) − 1 on the CPU (see the module docs)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scaled_tanh(x)


class ScaledTanh(nn.Module):
    """f(a) = amplitude·tanh(slope·a); LeCun et al. (1998) use 1.7159 and 2/3."""

    def __init__(self, amplitude: float = 1.7159, slope: float = 2 / 3):
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scaled_tanh(x, self.amplitude, self.slope)

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
    "tanh": Tanh,
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


def maxout_pieces(act: str | nn.Module | None) -> int:
    """How many channels the activation ``act`` takes per output channel: k for maxout, else 1.

    A layer followed by maxout computes k pieces per unit (Goodfellow et al. 2013,
    eq. 1), so that its width is k times the width that the next layer sees.  The
    name ``'maxout'`` means `Maxout`'s default of 2 pieces.
    """
    if isinstance(act, Maxout):
        return act.pieces
    return Maxout().pieces if act == "maxout" else 1


def list_acts() -> list[str]:
    """Names accepted by `get_act`, sorted."""
    return sorted(_ACTS)


def get_act(name: str, **kwargs) -> nn.Module:
    """A new activation module ``name`` built with ``kwargs`` (e.g. ``negative_slope``).

    Raises `UnknownNameError` listing the valid names for an unknown
    name, `ConfigError` for options the activation does not take.
    """
    if name not in _ACTS:
        raise UnknownNameError("activation", name, _ACTS)
    try:
        return _ACTS[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"Bad options {kwargs} for activation {name!r}: {exc}.") from exc
