"""The inference path: a trained model rewritten for fast evaluation.

Each step keeps the outputs (to rounding) and removes work that only training
needs: RepVGG's multi-branch blocks collapse into one 3x3 convolution (Ding et
al. 2021, Sec. 3.3); every batch norm that follows a convolution is folded
into it (`cnnlab.nn.fuse`); weights are stored channels-last (NHWC), the
layout oneDNN's CPU convolutions run fastest in; ``torch.compile`` (inductor)
optionally fuses the element-wise operations that remain and, with
inductor's ``freezing``, folds the weights in as constants (pre-packed for
oneDNN) — which is why the compiled model must be called under
``torch.inference_mode()`` or ``torch.no_grad()``.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.nn.fuse import inference_copy


def prepare(
    model: nn.Module, *, channels_last: bool = True, fuse: bool = True, compile: bool = False
) -> nn.Module:
    """A copy of ``model`` for inference only; ``model`` is left unchanged.

    Parameters
    ----------
    model : nn.Module
        A trained model (e.g. ``load_run(path).model``).
    channels_last : bool
        Store convolution weights (and hence activations) as NHWC.
    fuse : bool
        Re-parameterize RepVGG blocks and fold conv+BN pairs into one convolution.
    compile : bool
        Wrap the result in ``torch.compile`` (inductor with weight freezing; compiles on the
        first call, which takes seconds to minutes).

    Returns
    -------
    nn.Module
        In eval mode, without gradients, with the same outputs as ``model.eval()``.
    """
    prepared = inference_copy(model, channels_last=channels_last, fuse=fuse)
    return compile_frozen(prepared) if compile else prepared


class _FrozenCompiled(nn.Module):
    """Runs a ``torch.compile``'d module with inductor's ``freezing`` switched on.

    The switch must be the global inductor config at the call that compiles:
    passed as ``torch.compile(options={"freezing": True})`` it does not reach
    the freezing passes that torchao registers for int8 (the int8 convolution's
    weight pre-packing then fails with ``onednn.qconv_prepack`` unsupported).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.compiled = torch.compile(module, dynamic=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch._inductor.config as inductor_config

        with inductor_config.patch(freezing=True):
            return self.compiled(x)


def compile_frozen(module: nn.Module) -> nn.Module:
    """``module`` compiled by inductor with weight freezing, one static graph per batch size.

    Freezing folds the weights in as constants: pre-packed for oneDNN, and for
    an int8 program each quantize/convolution/dequantize group becomes one
    oneDNN int8 convolution.  Call the result under ``torch.no_grad()`` or
    ``torch.inference_mode()``.
    """
    return _FrozenCompiled(module)
