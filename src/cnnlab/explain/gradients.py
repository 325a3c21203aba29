"""Gradient-based attributions: saliency, deconvnet, guided backprop, integrated gradients,
SmoothGrad.

All share the call shape ``method(model, x, target, **options) -> Tensor`` with
attributions of the shape of ``x`` (images in [0, 1]; see `.target` for
``target``).

* `saliency`: |∂S_c/∂x| (Simonyan, Vedaldi & Zisserman 2014, "Deep inside
  convolutional networks", Sec. 3.1, eq. 2; their map is the maximum over
  channels, taken when plotting).
* `deconvnet` and `guided_backprop` change only the backward pass
  through ReLUs.  With f = relu(x) and R the signal coming back from above,
  plain backprop passes R·[x > 0], the deconvnet of Zeiler & Fergus (2014,
  "Visualizing and understanding convolutional networks", Sec. 2.1) passes
  relu(R), and guided backpropagation (Springenberg, Dosovitskiy, Brox &
  Riedmiller 2015, "Striving for simplicity", Sec. 3.4, Fig. 1) passes
  relu(R)·[x > 0].
* `integrated_gradients`: (x − x')·∫₀¹ ∂S(x' + α(x − x'))/∂x dα (Sundararajan,
  Taly & Yan 2017, "Axiomatic attribution for deep networks", eq. 1), the
  integral by Gauss-Legendre quadrature (as captum's default).
* `smoothgrad`: the mean of a method over copies of x with Gaussian noise
  (Smilkov, Thorat, Kim, Viégas & Wattenberg 2017, "SmoothGrad", eq. 3).

The modified ReLU backward is applied through a `torch.overrides.TorchFunctionMode`
that reroutes every ``relu`` call made during the forward pass (``nn.ReLU``
modules, in place or not, reused or not, and ``torch.relu``/``F.relu`` in
``forward`` code).  The model is not copied and no hooks are registered.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from cnnlab.errors import check_positive
from cnnlab.explain.context import explaining
from cnnlab.explain.target import Target, score_gradient, tile_target

Method = Callable[..., torch.Tensor]


def saliency(model: nn.Module, x: torch.Tensor, target: Target) -> torch.Tensor:
    """|∂S/∂x|, the image-specific class saliency of Simonyan et al. (2014), eq. 2."""
    with explaining(model):
        return score_gradient(model, x, target)[1].abs()


def gradient(model: nn.Module, x: torch.Tensor, target: Target) -> torch.Tensor:
    """∂S/∂x, signed (the quantity SmoothGrad averages in Smilkov et al. 2017, eq. 3)."""
    with explaining(model):
        return score_gradient(model, x, target)[1]


class _ReluRule(torch.autograd.Function):
    """relu forward; backward relu(R)·[x > 0] (guided) or relu(R) (deconvnet)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, guided: bool, inplace: bool) -> torch.Tensor:
        ctx.guided = guided
        if inplace:
            out = x.clamp_(min=0)
            ctx.mark_dirty(out)
        else:
            out = x.clamp(min=0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (out,) = ctx.saved_tensors
        grad = grad.clamp(min=0)
        # relu(x) > 0 exactly where x > 0, so the output gives the forward mask.
        return (grad * (out > 0) if ctx.guided else grad), None, None


_RELUS_OUT = {torch.relu, F.relu, torch.Tensor.relu}
_RELUS_INPLACE = {torch.relu_, F.relu_, torch.Tensor.relu_}


class _ModifiedRelu(TorchFunctionMode):
    """Reroute every relu call to `_ReluRule` while active."""

    def __init__(self, guided: bool):
        super().__init__()
        self.guided = guided

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _RELUS_OUT:
            return _ReluRule.apply(args[0], self.guided, bool(kwargs.get("inplace", False)))
        if func in _RELUS_INPLACE:
            return _ReluRule.apply(args[0], self.guided, True)
        return func(*args, **kwargs)


def _modified_relu_gradient(
    model: nn.Module, x: torch.Tensor, target: Target, guided: bool
) -> torch.Tensor:
    with explaining(model), _ModifiedRelu(guided):
        return score_gradient(model, x, target)[1]


def guided_backprop(model: nn.Module, x: torch.Tensor, target: Target) -> torch.Tensor:
    """Guided backpropagation (Springenberg et al. 2015, Sec. 3.4): ReLUs pass relu(R)·[x > 0].

    Only ReLUs are modified (modules and functional calls); other activations
    keep their ordinary gradient.
    """
    return _modified_relu_gradient(model, x, target, guided=True)


def deconvnet(model: nn.Module, x: torch.Tensor, target: Target) -> torch.Tensor:
    """The deconvnet of Zeiler & Fergus (2014), Sec. 2.1: ReLUs pass relu(R) backwards.

    Max pooling routes the signal through the recorded "switches", which is
    the ordinary gradient of max pooling; convolutions use their transposed
    filters, the ordinary gradient too.
    """
    return _modified_relu_gradient(model, x, target, guided=False)


class _ReluCounter(TorchFunctionMode):
    """Counts the relu calls of a forward pass."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func in _RELUS_OUT or func in _RELUS_INPLACE
        return func(*args, **(kwargs or {}))


@torch.no_grad()
def relu_count(model: nn.Module, x: torch.Tensor) -> int:
    """How many ReLU calls (modules or functional) one forward pass of ``x`` makes."""
    with explaining(model), _ReluCounter() as counter:
        model(x)
    return counter.count


def same_as_gradient_note(model: nn.Module, x: torch.Tensor, method: str) -> str | None:
    """Why guided backprop or deconvnet equals the plain gradient here, or None.

    Both only change how ReLUs pass the signal backwards: a network without a
    ReLU (LeNet-5's scaled tanh, LeCun et al. 1998) gets the ordinary gradient
    from them, the saliency map of Simonyan et al. (2014), and three identical
    maps would suggest three explanations where there is one.
    """
    if method not in ("guided-backprop", "deconvnet", "guided-grad-cam") or relu_count(model, x):
        return None
    part = "its guided-backprop factor" if method == "guided-grad-cam" else "it"
    name = type(getattr(model, "net", model)).__name__  # a run's model is (normalize, net)
    return (
        f"{name} has no ReLU, so {part} equals the plain gradient "
        "(--method saliency): guided backprop and deconvnet only change the ReLUs' backward pass."
    )


def _batches(total: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, total)) for start in range(0, total, size)]


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    baseline: torch.Tensor | float = 0.0,
    steps: int = 50,
    batch_size: int = 256,
) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al. 2017, eq. 1 and Sec. 3 "Computing").

    Parameters
    ----------
    baseline : float or Tensor broadcastable to x
        The reference input x' (default black, 0).
    steps : int
        Gauss-Legendre nodes on [0, 1]; the attributions sum to S(x) − S(x') up to
        the quadrature error (completeness, Sec. 3, Prop. 1).
    batch_size : int
        Interpolated images per forward/backward pass.
    """
    check_positive("steps", steps)
    check_positive("batch_size", batch_size)
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas = torch.as_tensor((nodes + 1) / 2, dtype=x.dtype, device=x.device)
    weights = torch.as_tensor(weights / 2, dtype=x.dtype, device=x.device)
    baseline = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    delta = x - baseline
    total = torch.zeros_like(x)
    per_pass = max(1, batch_size // len(x))
    with explaining(model):
        for part in _batches(steps, per_pass):
            a, w = alphas[part], weights[part]
            shape = (-1,) + (1,) * x.dim()
            path = (baseline + a.view(shape) * delta).flatten(0, 1)
            _, grad = score_gradient(model, path, tile_target(target, len(x), len(a)))
            total += (grad.view(len(a), *x.shape) * w.view(shape)).sum(0)
    return delta * total


def smoothgrad(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    method: Method = saliency,
    samples: int = 25,
    noise: float = 0.15,
    batch_size: int = 256,
    seed: int = 0,
    **options,
) -> torch.Tensor:
    """SmoothGrad (Smilkov et al. 2017, eq. 3): mean of ``method`` over noisy copies of x.

    Parameters
    ----------
    method
        attribution function with the common call shape (default `saliency`).
    samples
        number of noisy copies n.
    noise
        σ / (x_max − x_min) of each image (the paper finds 10-20 % works best, Sec. 4.1).
    batch_size
        noisy images per call of ``method``.
    seed
        seeds the noise; the same seed gives the same map.
    options
        passed on to ``method``.
    """
    check_positive("samples", samples)
    check_positive("noise", noise, allow_zero=True)
    check_positive("batch_size", batch_size)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    spread = (x.flatten(1).amax(1) - x.flatten(1).amin(1)).view(-1, *(1,) * (x.dim() - 1))
    sigma = noise * spread
    total = torch.zeros_like(x)
    per_call = max(1, batch_size // len(x))
    for part in _batches(samples, per_call):
        copies = part.stop - part.start
        eps = torch.randn((copies, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
        noisy = (x + sigma * eps).flatten(0, 1)
        attribution = method(model, noisy, tile_target(target, len(x), copies), **options)
        total += attribution.view(copies, *x.shape).sum(0)
    return total / samples
