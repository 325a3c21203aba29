"""Batch-norm fixtures for tests: trained-looking statistics, and the conv-BN fusion check.

A freshly built batch norm has running mean 0, variance 1, γ = 1 and β = 0, under
which a swapped mean and variance, a wrong ε or a dropped γ go unnoticed.  The
helpers draw them from the spread a trained network shows instead.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.nn.fuse import fuse_conv_bn


def randomize_batch_norm(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every 2-d batch norm in ``module`` random statistics; return it in eval mode.

    Running mean ~ U(−0.5, 0.5), running variance ~ U(0.5, 2), γ ~ U(0.5, 1.5) and
    β ~ U(−0.5, 0.5), drawn from a generator seeded with ``seed`` (the global one is
    left alone).
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in module.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.running_mean.uniform_(-0.5, 0.5, generator=generator)
                bn.running_var.uniform_(0.5, 2.0, generator=generator)
                bn.weight.uniform_(0.5, 1.5, generator=generator)
                bn.bias.uniform_(-0.5, 0.5, generator=generator)
    return module.eval()


def assert_fusion_keeps_outputs(
    model: nn.Module, x: torch.Tensor, atol: float | None = None
) -> nn.Module:
    """Fold ``model``'s conv-BN pairs and check the fused copy gives the same outputs on ``x``.

    Returns the fused copy, which holds no batch norm that followed a convolution.
    rtol is 1e-5; ``atol`` defaults to 1e-5 of the largest output (pass an absolute
    one for a tighter check on small outputs).
    """
    model.eval()
    fused = fuse_conv_bn(model)
    with torch.no_grad():
        expected, got = model(x), fused(x)
    if atol is None:
        atol = 1e-5 * float(expected.abs().max())
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=atol)
    return fused


def batch_norm_count(model: nn.Module) -> int:
    """Number of 2-d batch norms in ``model``."""
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
