"""Intermediate feature maps by layer name.

``feature_extractor(model, ["features.layer3", "features.layer4"])`` returns a
module whose forward pass returns ``{name: output}`` for those layers.  Hooks
are registered for the duration of one forward pass and removed afterwards,
also when the pass fails, so the wrapped model is never left with stale hooks.
Unlike :func:`torchvision.models.feature_extraction.create_feature_extractor`
it needs no symbolic tracing, so models with data-dependent control flow work.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.errors import UnknownNameError
from cnnlab.nn.hooks import hooks


class FeatureExtractor(nn.Module):
    """Runs ``model`` and returns the outputs of the named submodules, in order.

    With ``stop_early=True`` the forward pass ends as soon as the last
    requested layer has run (the remaining layers cost nothing).
    """

    def __init__(self, model: nn.Module, layers: Sequence[str], stop_early: bool = True):
        super().__init__()
        modules = dict(model.named_modules())
        for name in layers:
            if name not in modules or name == "":
                valid = [n for n in modules if n]
                raise UnknownNameError("layer", name, valid)
        self.model = model
        self.layers = list(layers)
        self.stop_early = stop_early

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        outputs: dict[str, torch.Tensor] = {}
        recorders = {name: self._recorder(name, outputs) for name in self.layers}
        with hooks(self.model, recorders), contextlib.suppress(_AllFeaturesSeen):
            self.model(x)
        return OrderedDict((name, outputs[name]) for name in self.layers)

    def _recorder(self, name: str, outputs: dict[str, torch.Tensor]):
        def hook(module: nn.Module, inputs, output) -> torch.Tensor | None:
            outputs[name] = output
            if self.stop_early and len(outputs) == len(self.layers):
                raise _AllFeaturesSeen
            # A later in-place activation (ReLU(inplace=True)) would overwrite the
            # kept features; the rest of the network computes on a copy instead.
            return output.clone() if isinstance(output, torch.Tensor) else None

        return hook


class _AllFeaturesSeen(Exception):
    """Raised inside the forward pass once every requested layer has produced its output."""


def feature_extractor(
    model: nn.Module, layers: str | Sequence[str], stop_early: bool = True
) -> FeatureExtractor:
    """A module returning ``{layer name: output}`` for the named layers of ``model``.

    Parameters
    ----------
    model : nn.Module
    layers : str or sequence of str
        Names from ``model.named_modules()``, e.g. ``"features.layer4"``.
    stop_early : bool
        Stop the forward pass after the last requested layer.

    Raises
    ------
    UnknownNameError
        A name is not a submodule of ``model``; the message lists the valid names.
    """
    return FeatureExtractor(model, [layers] if isinstance(layers, str) else layers, stop_early)
