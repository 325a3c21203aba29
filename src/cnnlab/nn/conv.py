"""Convolution layers: validated ``conv2d``, ``ConvNormAct``, separable and transposed.

* `conv2d` is the one place where padding is decided: an integer,
  ``'valid'`` (no padding) or ``'same'`` (P = (F_eff − 1)/2, which at stride S
  gives ceil(W/S) outputs, as in TensorFlow), with zero, reflect, replicate or
  circular padding.
* `ConvNormAct` is conv → norm → activation, the block most CNNs since
  Ioffe & Szegedy (2015) are made of.
* `SeparableConv2d` is a depthwise convolution followed by a 1x1
  pointwise one (Chollet 2017, "Xception"; Howard et al. 2017, "MobileNets",
  Sec. 3.1): F·F·C + C·K weights instead of F·F·C·K.
* `FullConv2d` is a convolution whose kernel covers its whole input, a
  fully connected layer in convolutional form (C5 of LeNet-5), computed as the
  matrix product it is.
* `PartialConv2d` connects each output map to a chosen subset of the
  input maps only, like C3 of LeNet-5 (LeCun et al. 1998, Table I).
* `conv_transpose2d` is the learnable upsampling of Zeiler et al. (2010)
  and Long, Shelhamer & Darrell (2015), "Fully convolutional networks".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from cnnlab.errors import ConfigError, GeometryError, check_choice
from cnnlab.nn.act import get_act, maxout_pieces
from cnnlab.nn.geometry import effective_kernel, same_padding
from cnnlab.nn.norm import get_norm

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

Size2 = int | tuple[int, int]
Padding = int | tuple[int, int] | str


def conv2d(
    in_ch: int,
    out_ch: int,
    kernel: Size2,
    stride: Size2 = 1,
    padding: Padding = 0,
    dilation: Size2 = 1,
    groups: int = 1,
    bias: bool = True,
    padding_mode: str = "zeros",
) -> nn.Conv2d:
    """A ``nn.Conv2d`` whose arguments are checked, with ``'same'``/``'valid'`` padding.

    Raises `ConfigError` when ``groups`` does not divide both channel
    counts and `GeometryError` for 'same' padding of an even kernel at
    stride > 1.
    """
    _check_channels(in_ch, out_ch, groups)
    check_choice("padding mode", padding_mode, PADDING_MODES)
    return nn.Conv2d(
        in_ch,
        out_ch,
        kernel,
        stride=stride,
        padding=resolve_padding(padding, kernel, stride, dilation),
        dilation=dilation,
        groups=groups,
        bias=bias,
        padding_mode=padding_mode,
    )


class FullConv2d(nn.Conv2d):
    """A convolution with one output position: its F x F kernel covers the F x F input.

    LeCun et al. (1998), Sec. II.B: C5 "is labeled as a convolutional layer, instead
    of a fully-connected layer, because if LeNet-5 input were made bigger with
    everything else kept constant, the feature map dimension would be larger than
    1x1".  On an input of exactly the kernel's size the output is
    ``W.flatten(1) @ x.flatten(1) + b``, computed as that matrix product (on the CPU
    2.4x faster, forward and backward, than the convolution kernel for LeNet-5's C5:
    benchmarks/kernels.py); larger inputs are convolved.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: Size2, bias: bool = True):
        super().__init__(in_ch, out_ch, kernel, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.kernel_size:
            return super().forward(x)
        out = F.linear(x.flatten(1), self.weight.flatten(1), self.bias)
        return out[:, :, None, None]


def resolve_padding(
    padding: Padding, kernel: Size2, stride: Size2 = 1, dilation: Size2 = 1
) -> int | tuple[int, ...] | str:
    """Integer padding per dimension for ``'same'``/``'valid'``/int padding.

    An even effective kernel at stride 1 keeps PyTorch's ``'same'`` (which pads
    asymmetrically); at stride > 1 that has no symmetric equivalent.
    """
    if padding == "valid":
        return 0
    if padding != "same":
        if isinstance(padding, str):
            raise ConfigError(f"padding must be an int, 'same' or 'valid', got {padding!r}.")
        if min(_pair(padding)) < 0:
            raise GeometryError(f"padding must be >= 0, got {padding}.")
        return padding
    kernels, strides, dilations = _pair(kernel), _pair(stride), _pair(dilation)
    if any(effective_kernel(k, d) % 2 == 0 for k, d in zip(kernels, dilations, strict=True)):
        if max(strides) == 1:
            return "same"
        raise GeometryError(
            f"'same' padding of an even {kernel} kernel at stride {stride} is not supported: "
            "it would need asymmetric padding. Use an odd kernel or an explicit padding."
        )
    return tuple(same_padding(k, d) for k, d in zip(kernels, dilations, strict=True))


# Activations that ConvNormAct applies in place (the ones torchvision's blocks use so).
INPLACE_ACTS = frozenset({"relu", "relu6", "leaky_relu", "silu", "swish", "hard_swish"})


class ConvNormAct(nn.Sequential):
    """Convolution → normalization → activation, children ``conv``, ``bn``/``norm``, ``act``.

    ``norm`` is ``'batch'`` (child ``bn``), ``'group'`` or ``'layer'`` (child
    ``norm``) or ``None`` (no child); the convolution has a bias only without a
    normalization, which would cancel it.  ``act`` is a name for
    `get_act`, a module, or ``None`` (no child); with maxout
    over k pieces the convolution computes k·``out_ch`` maps, so that the block
    still outputs ``out_ch``.  A named
    ReLU, ReLU6, leaky ReLU, SiLU or hard swish works in place, as in
    torchvision's ``Conv2dNormActivation``: its input is the block's own fresh
    tensor, and skipping one allocation per layer is ~5 % of a small network's
    CPU forward pass.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: Size2 = 3,
        stride: Size2 = 1,
        padding: Padding = "same",
        dilation: Size2 = 1,
        groups: int = 1,
        norm: str | None = "batch",
        act: str | nn.Module | None = "relu",
    ):
        super().__init__()
        width = out_ch * maxout_pieces(act)  # maxout reduces k pieces to one channel
        self.conv = conv2d(
            in_ch, width, kernel, stride, padding, dilation, groups, bias=norm is None
        )
        if norm is not None:
            self.add_module("bn" if norm == "batch" else "norm", get_norm(norm, width))
        if isinstance(act, str):
            self.act = get_act(act, inplace=True) if act in INPLACE_ACTS else get_act(act)
        elif act is not None:
            self.act = act


class SeparableConv2d(nn.Sequential):
    """Depthwise F x F convolution per channel, then a 1x1 pointwise convolution.

    Children ``depthwise`` (groups = in_ch) and ``pointwise``; Chollet (2017),
    Howard et al. (2017), Sec. 3.1.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: Size2 = 3,
        stride: Size2 = 1,
        padding: Padding = "same",
        dilation: Size2 = 1,
        bias: bool = True,
    ):
        super().__init__()
        self.depthwise = conv2d(
            in_ch, in_ch, kernel, stride, padding, dilation, groups=in_ch, bias=False
        )
        self.pointwise = conv2d(in_ch, out_ch, 1, bias=bias)


class PartialConv2d(nn.Module):
    """Convolution in which output map j sees only the input maps i with ``table[i][j]``.

    Only the connected k x k kernels are parameters (``weight`` has shape
    (connections, k, k)); they are scattered into a zero (out, in, k, k) kernel
    for each forward pass.  ``mask`` is the (out, in) boolean connection table.
    For LeNet-5's C3: 60 connections·25 + 16 biases = 1516 parameters.
    """

    def __init__(self, table: Sequence[Sequence[bool]], kernel: int, bias: bool = True):
        super().__init__()
        # The table, indices and initial values are computed on the CPU and then moved
        # to the default device, so that the layer can also be built on the meta device.
        mask = torch.tensor(table, dtype=torch.bool, device="cpu").T.contiguous()
        if mask.dim() != 2 or not mask.any(dim=1).all():
            raise ConfigError("A connection table needs every output map connected to an input.")
        self.out_channels, self.in_channels = mask.shape
        self.kernel_size, self.stride = kernel, 1
        index = mask.flatten().nonzero().flatten()
        # PyTorch's default initialisation with each map's own fan-in.
        fan_in = mask.sum(dim=1) * kernel * kernel
        bound = (1 / fan_in.double().sqrt()).float()
        scale = bound[index // self.in_channels, None, None]
        weight = (torch.rand(len(index), kernel, kernel, device="cpu") * 2 - 1) * scale
        device = torch.empty(0).device
        self.register_buffer("mask", mask.to(device))
        self.register_buffer("index", index.to(device))
        self.weight = nn.Parameter(weight.to(device))
        self.bias = None
        if bias:
            bias_init = (torch.rand(self.out_channels, device="cpu") * 2 - 1) * bound
            self.bias = nn.Parameter(bias_init.to(device))

    def full_weight(self) -> torch.Tensor:
        """The (out, in, k, k) kernel with zeros for the missing connections."""
        k = self.kernel_size
        flat = self.weight.new_zeros(self.out_channels * self.in_channels, k, k)
        flat = flat.index_copy(0, self.index, self.weight)
        return flat.view(self.out_channels, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.full_weight(), self.bias)

    def multiply_adds(self, output: torch.Tensor) -> int:
        """Multiply-adds of the connected kernels only, for ``output`` (N, out, H, W).

        ``forward`` multiplies the zero kernels of the missing connections too; the
        architecture (and LeCun et al.'s count) needs only the connected ones.  Read by
        `cnnlab.metrics.cost.trace_macs`.
        """
        return self.weight.numel() * output.shape[0] * output.shape[-2] * output.shape[-1]

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"connections={len(self.index)}/{self.mask.numel()}"
        )


def conv_transpose2d(
    in_ch: int,
    out_ch: int,
    kernel: Size2,
    stride: Size2 = 1,
    padding: Size2 = 0,
    output_padding: Size2 = 0,
    dilation: Size2 = 1,
    groups: int = 1,
    bias: bool = True,
) -> nn.ConvTranspose2d:
    """A checked ``nn.ConvTranspose2d``; output size (W − 1)·S − 2P + F_eff + output_padding.

    See `conv_transpose_output_size`.
    """
    _check_channels(in_ch, out_ch, groups)
    for op, s, d in zip(_pair(output_padding), _pair(stride), _pair(dilation), strict=True):
        if not 0 <= op < max(s, d):
            raise GeometryError(
                f"output_padding must be in [0, max(stride, dilation)) = [0, {max(s, d)}), "
                f"got {output_padding}."
            )
    return nn.ConvTranspose2d(
        in_ch, out_ch, kernel, stride, padding, output_padding, groups, bias, dilation
    )


def _check_channels(in_ch: int, out_ch: int, groups: int) -> None:
    if in_ch < 1 or out_ch < 1 or groups < 1:
        raise ConfigError(
            f"Channel counts and groups must be >= 1, got in_ch={in_ch}, out_ch={out_ch}, "
            f"groups={groups}."
        )
    if in_ch % groups or out_ch % groups:
        raise ConfigError(
            f"groups={groups} must divide both in_ch={in_ch} and out_ch={out_ch}: each group "
            f"maps in_ch/groups input to out_ch/groups output channels."
        )
