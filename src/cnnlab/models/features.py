"""Intermediate feature maps by layer name.

``feature_extractor(model, ["features.layer3", "features.layer4"])`` returns a
module whose forward pass returns ``{name: output}`` for those layers.  Hooks
are registered for the duration of one forward pass and removed afterwards,
also when the pass fails, so the wrapped model is never left with stale hooks.
Unlike `torchvision.models.feature_extraction.create_feature_extractor`
it needs no symbolic tracing, so models with data-dependent control flow work.

`features_only` turns a model into timm's ``features_only`` form: a
module returning the list of its stage outputs (`cnnlab.models.stages`)
with a ``feature_info`` describing them.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.models.stages import FeatureInfo, find_stages, trunk_of
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
            self._run(x)
        return OrderedDict((name, outputs[name]) for name in self.layers)

    def _run(self, x: torch.Tensor) -> None:
        self.model(x)

    def _recorder(self, name: str, outputs: dict[str, torch.Tensor]):
        def hook(module: nn.Module, inputs, output) -> torch.Tensor | None:
            outputs[name] = output
            # Stopping raises inside the forward pass, which torch.export (and so ONNX)
            # cannot follow: while exporting, the rest of the trunk runs.
            last = self.stop_early and len(outputs) == len(self.layers)
            if last and not torch.compiler.is_exporting():
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


class FeatureListNet(FeatureExtractor):
    """The feature maps of the stages ``out_indices`` of ``model``, as a list (timm's
    ``FeatureListNet``); ``feature_info`` gives their channels, reductions and modules.

    Only the trunk runs, up to the last requested stage: the head never does.
    """

    def __init__(self, model: nn.Module, feature_info: FeatureInfo):
        super().__init__(model, feature_info.module_name(), stop_early=True)
        self.feature_info = feature_info

    def _run(self, x: torch.Tensor) -> None:
        trunk_of(self.model)(x)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        return list(super().forward(x).values())


def features_only(
    model: nn.Module, in_chans: int, out_indices: Sequence[int] | None = None, name: str = ""
) -> FeatureListNet:
    """``model`` without its head, returning the maps of the stages ``out_indices``.

    Parameters
    ----------
    model
        a cnnlab model (its trunk is ``model.features``, or the model itself).
    in_chans
        channels of the input images.
    out_indices
        stage numbers, 0 for the first; all stages when None.
    name
        the model's name, for messages.

    Raises
    ------
    ConfigError
        An index is not a stage of the model (the message lists the stages), the
        model has no feature maps, or it is built on a backbone (FCN, detectors).
    """
    if any(isinstance(getattr(model, a, None), nn.Module) for a in ("backbone", "pyramid")):
        raise ConfigError(
            f"{name or type(model).__name__} is built on a backbone (a feature pyramid or "
            "another registered model): create that backbone with features_only=True instead."
        )
    stages = find_stages(model, in_chans)
    indices = tuple(range(len(stages))) if out_indices is None else tuple(out_indices)
    valid = range(len(stages))
    if not indices or len(set(indices)) != len(indices) or not set(indices) <= set(valid):
        listing = ", ".join(f"{i}: {s.module} (/{s.reduction})" for i, s in enumerate(stages))
        raise ConfigError(
            f"out_indices {indices} do not fit {name or type(model).__name__}, whose "
            f"{len(stages)} stages are {listing}. Pass distinct indices from 0 to "
            f"{len(stages) - 1}."
        )
    for attribute in ("head", "aux"):
        if isinstance(getattr(model, attribute, None), nn.Module):
            setattr(model, attribute, nn.Identity())
    return FeatureListNet(model, FeatureInfo(stages, indices))
