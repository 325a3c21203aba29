"""Normalization layers.

`Normalize` puts the data set's preprocessing at the front of a model,
so that every model takes images in [0, 1] and a saved run carries its own
preprocessing (per-channel mean/std, or the AlexNet "mean image").

`get_norm` builds the normalization layer of a conv block by name:

* ``batch`` (Ioffe & Szegedy 2015), ``group`` (Wu & He 2018), ``layer`` (Ba,
  Kiros & Hinton 2016; for feature maps: one group over C, H and W);
* ``lrn``: local response normalization (Krizhevsky, Sutskever & Hinton 2012,
  Sec. 3.3), b_i = a_i / (k + α·Σ_{j=i−n/2}^{i+n/2} a_j²)^β with k = 2, n = 5,
  α = 1e-4, β = 0.75 (``torch.nn.LocalResponseNorm`` divides its α by n, so it
  gets α·n);
* ``actnorm``: a per-channel affine layer y = s·(x + b) initialised from the
  first batch so that its output has zero mean and unit variance per channel
  (Kingma & Dhariwal 2018, "Glow", Sec. 3.1), then trained as ordinary
  parameters.

`WSConv2d` is weight standardization (Qiao, Wang, Liu, Shen & Yuille
2019, "Micro-batch training with batch-channel normalization and weight
standardization", eq. 5): each output channel's kernel is standardized over
its fan-in before the convolution, Ŵ_i = (W_i − μ_i)/√(σ_i² + ε).
`replace_norms` and `standardize_weights` apply a normalization
or weight standardization to any model (``create_model(...,
norm_layer='group', weight_std=True)``).
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice

NORMS = ("actnorm", "batch", "group", "layer", "lrn")

# Krizhevsky et al. (2012), Sec. 3.3: k, n, α and β "determined using a validation set".
LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 5, 1e-4, 0.75, 2.0


class Normalize(nn.Module):
    """``(x - mean) / std`` with ``mean``/``std`` of shape (C, 1, 1) or (C, H, W).

    A (C, H, W) mean is the "mean image" of Krizhevsky et al. (2012), Sec. 2;
    a (C, 1, 1) mean/std is per-channel standardization.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32)
        std = torch.as_tensor(std, dtype=torch.float32)
        if mean.dim() == 1:
            mean = mean[:, None, None]
        if std.dim() == 1:
            std = std[:, None, None]
        if (std <= 0).any():
            raise ValueError("Normalize: every std must be > 0")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean_shape={tuple(self.mean.shape)}, std_shape={tuple(self.std.shape)}"


def get_norm(name: str, channels: int, groups: int = 32) -> nn.Module:
    """Normalization layer ``name`` (one of `NORMS`) for ``channels`` feature maps.

    ``groups`` is the number of groups of group norm (Wu & He 2018 use 32),
    capped at ``channels``; it must divide ``channels``.
    """
    check_choice("normalization", name, NORMS)
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "layer":
        return nn.GroupNorm(1, channels)
    if name == "lrn":
        return nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_ALPHA * LRN_SIZE, beta=LRN_BETA, k=LRN_K)
    if name == "actnorm":
        return ActNorm(channels)
    groups = min(groups, channels)
    if channels % groups:
        raise ConfigError(
            f"Group norm with {groups} groups needs a channel count divisible by {groups}, "
            f"got {channels}; pick groups among the divisors of {channels}."
        )
    return nn.GroupNorm(groups, channels)


class ActNorm(nn.Module):
    """y = scale·(x + bias) per channel, data-dependent initialisation (Glow, Sec. 3.1).

    The first forward pass in training mode sets bias = −mean and scale = 1/(std + eps)
    of that batch per channel, so that the initial output has zero mean and unit
    variance; afterwards both are ordinary parameters.  ``initialized`` is a buffer,
    saved with the weights.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not self.initialized:
            with torch.no_grad():
                mean = x.mean(dim=(0, 2, 3), keepdim=True)
                std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
                self.bias.copy_(-mean)
                self.scale.copy_(1 / (std + self.eps))
                self.initialized.fill_(True)
        return self.scale * (x + self.bias)

    def extra_repr(self) -> str:
        return f"channels={self.bias.shape[1]}"


class WSConv2d(nn.Conv2d):
    """A convolution whose kernels are standardized per output channel (Qiao et al. 2019, eq. 5).

    Ŵ_i = (W_i − mean(W_i)) / sqrt(var(W_i) + eps) over the C_in/groups·k·k weights
    of output channel i; the stored ``weight`` stays unstandardized, so that the
    state dict has the keys of ``nn.Conv2d``.
    """

    eps = 1e-5

    def standardized_weight(self) -> torch.Tensor:
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        return (w - mean) / torch.sqrt(var + self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.standardized_weight(), self.bias)


def standardize_weights(model: nn.Module) -> nn.Module:
    """Replace every ``nn.Conv2d`` of ``model`` by a `WSConv2d` with the same
    parameters, in place (Qiao et al. 2019 pair it with group norm: ``replace_norms``).

    Returns ``model``.
    """
    for parent, child_name, conv in _children(model, lambda m: type(m) is nn.Conv2d):
        ws = WSConv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            conv.bias is not None,
            conv.padding_mode,
            device="meta",
        )
        ws.weight, ws.bias = conv.weight, conv.bias
        setattr(parent, child_name, ws)
    return model


def replace_norms(model: nn.Module, name: str, groups: int = 32) -> nn.Module:
    """Replace every ``nn.BatchNorm2d`` of ``model`` by ``get_norm(name, channels)``, in place.

    The replacements are freshly initialised; the model's other layers are kept.
    Raises `ConfigError` for a model without batch norm (nothing to replace).
    Returns ``model``.
    """
    check_choice("normalization", name, NORMS)
    targets = _children(model, lambda m: isinstance(m, nn.BatchNorm2d))
    if not targets:
        raise ConfigError(
            f"norm_layer={name!r}: this model has no batch normalization to replace; "
            "models built without normalization take no norm_layer."
        )
    for parent, child_name, bn in targets:
        setattr(parent, child_name, get_norm(name, bn.num_features, groups))
    return model


def _children(model: nn.Module, predicate) -> list[tuple[nn.Module, str, nn.Module]]:
    return [
        (parent, child_name, child)
        for parent in model.modules()
        for child_name, child in parent.named_children()
        if predicate(child)
    ]
