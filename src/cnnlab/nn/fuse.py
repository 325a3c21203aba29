"""Folding batch normalization into the preceding convolution for inference.

At inference a batch-norm layer is the affine map
y = γ (x − μ) / √(σ² + ε) + β with fixed running statistics (Ioffe & Szegedy
2015, Alg. 2, step 11), so a convolution W x + b followed by it equals one
convolution with W' = W · γ/√(σ² + ε) (per output channel) and
b' = (b − μ) · γ/√(σ² + ε) + β.  `fuse_conv_bn` applies
`torch.nn.utils.fusion.fuse_conv_bn_eval` to every convolution that a
batch norm directly follows inside an ``nn.Sequential`` (every
`ConvNormAct` is one), and removes the batch norm.

Modules that know a finer re-parameterization (RepVGG's multi-branch blocks)
implement ``reparameterize() -> nn.Module``; `reparameterize` calls it on
each of them before fusing.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_BATCH_NORMS = (nn.BatchNorm2d,)


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every conv→BN pair folded into one conv.

    Parameters
    ----------
    model : nn.Module
        Left unchanged.

    Returns
    -------
    nn.Module
        Same outputs in eval mode (to rounding), fewer modules and operations.
    """
    fused = copy.deepcopy(model).eval()
    for module in list(fused.modules()):
        if isinstance(module, nn.Sequential):
            _fuse_sequential(module)
    return fused


def _fuse_sequential(seq: nn.Sequential) -> None:
    names = list(seq._modules)
    for current, following in itertools.pairwise(names):
        conv, bn = seq._modules.get(current), seq._modules.get(following)
        if (
            isinstance(conv, nn.Conv2d)
            and isinstance(bn, _BATCH_NORMS)
            and bn.track_running_stats
            and bn.running_mean is not None
        ):
            seq._modules[current] = fuse_conv_bn_eval(conv, bn)
            del seq._modules[following]


def reparameterize(model: nn.Module) -> nn.Module:
    """A copy of ``model`` for inference: re-parameterized blocks collapsed, conv+BN fused.

    Every submodule with a ``reparameterize()`` method (e.g. a RepVGG block,
    Ding et al. 2021, Sec. 3.3) is replaced by the module it returns.
    """
    model = copy.deepcopy(model).eval()
    _replace_reparameterizable(model)
    return fuse_conv_bn(model)


def inference_copy(model: nn.Module, *, channels_last: bool = True, fuse: bool = True) -> nn.Module:
    """A copy of ``model`` for inference only (eval mode, no gradients), same outputs.

    ``fuse`` collapses re-parameterizable blocks and folds conv+BN pairs
    (`reparameterize`); ``channels_last`` stores the weights NHWC, the
    layout oneDNN's CPU convolutions run fastest in.
    """
    copied = reparameterize(model) if fuse else copy.deepcopy(model).eval()
    copied.requires_grad_(False)
    return copied.to(memory_format=torch.channels_last) if channels_last else copied


def _replace_reparameterizable(parent: nn.Module) -> None:
    for name, child in list(parent.named_children()):
        if hasattr(child, "reparameterize"):
            setattr(parent, name, child.reparameterize())
        else:
            _replace_reparameterizable(child)
