"""The RepVGG block: Ding, Zhang, Ma, Han, Ding & Sun (2021), "RepVGG: Making
VGG-style ConvNets Great Again", CVPR, Sec. 3.3 and Fig. 4.

At training time the block sums three branches, each followed by its own batch
norm: a 3x3 convolution, a 1x1 convolution and (when input and output have the
same shape) the identity,

    M(2) = BN(M(1) ∗ W(3), μ(3), σ(3), γ(3), β(3))
         + BN(M(1) ∗ W(1), μ(1), σ(1), γ(1), β(1))
         + BN(M(1), μ(0), σ(0), γ(0), β(0))

At inference every branch is a linear map with a bias, so their sum is one: each
BN is folded into its branch's kernel (W'_i = γ_i/σ_i · W_i,
b'_i = β_i − μ_i γ_i/σ_i), the 1x1 kernel is zero-padded to 3x3 and the identity
is written as a 3x3 kernel with a single 1 at the centre of each channel's own
filter; the three kernels and biases are added (Sec. 3.3, Fig. 4).
`RepVGGBlock.reparameterize` returns that single 3x3 convolution.  The
ReLU that follows the sum is not part of the block, so the re-parameterized
network is a plain stack of 3x3 conv + ReLU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.nn.conv import ConvNormAct, conv2d


class RepVGGBlock(nn.Module):
    """Sum of 3x3 conv-BN, 1x1 conv-BN and (same shape only) identity-BN branches.

    Children ``dense`` (3x3), ``pointwise`` (1x1) and ``identity`` (a
    ``BatchNorm2d``, or ``None`` when the stride is 2 or the widths differ).
    ``groups`` gives grouped 3x3 and 1x1 convolutions (the g2/g4 variants).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.in_ch, self.out_ch, self.stride, self.groups = in_ch, out_ch, stride, groups
        self.dense = ConvNormAct(in_ch, out_ch, 3, stride, padding=1, groups=groups, act=None)
        self.pointwise = ConvNormAct(in_ch, out_ch, 1, stride, padding=0, groups=groups, act=None)
        self.identity = nn.BatchNorm2d(out_ch) if in_ch == out_ch and stride == 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dense(x) + self.pointwise(x)
        if self.identity is not None:
            out = out + self.identity(x)
        return out

    def equivalent_kernel_and_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The 3x3 kernel and bias of the one convolution equal to the block in eval mode."""
        kernel, bias = _fold(self.dense.conv.weight, self.dense.bn)
        k1, b1 = _fold(self.pointwise.conv.weight, self.pointwise.bn)
        kernel, bias = kernel + F.pad(k1, (1, 1, 1, 1)), bias + b1
        if self.identity is not None:
            k0, b0 = _fold(self._identity_kernel(), self.identity)
            kernel, bias = kernel + k0, bias + b0
        return kernel, bias

    def _identity_kernel(self) -> torch.Tensor:
        """3x3 kernel of x ↦ x: output channel c reads channel c of its group at the centre."""
        per_group = self.in_ch // self.groups
        weight = self.dense.conv.weight
        kernel = torch.zeros(self.out_ch, per_group, 3, 3, dtype=weight.dtype, device=weight.device)
        channels = torch.arange(self.out_ch, device=weight.device)
        kernel[channels, channels % per_group, 1, 1] = 1.0
        return kernel

    @torch.no_grad()
    def reparameterize(self) -> nn.Conv2d:
        """One 3x3 convolution with bias giving the block's eval-mode outputs (Sec. 3.3)."""
        kernel, bias = self.equivalent_kernel_and_bias()
        with torch.device("meta"):  # no initialisation: every weight is overwritten
            conv = conv2d(
                self.in_ch, self.out_ch, 3, self.stride, padding=1, groups=self.groups, bias=True
            )
        conv = conv.to_empty(device=kernel.device).to(kernel.dtype)
        conv.weight.copy_(kernel)
        conv.bias.copy_(bias)
        return conv

    def extra_repr(self) -> str:
        return f"{self.in_ch}, {self.out_ch}, stride={self.stride}, groups={self.groups}"


def _fold(kernel: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of conv (no bias) followed by ``bn`` with its running statistics."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return kernel * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale
