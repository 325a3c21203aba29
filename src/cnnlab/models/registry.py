"""Model registry: ``@register_model``, ``create_model`` and ``list_models``.

A builder is a module-level function ``builder(num_classes=..., in_chans=..., **kwargs)
-> nn.Module`` registered under its own name (``def resnet50`` in
`cnnlab.models.resnet` is the model ``resnet50``); its docstring's first line
is the one-line description shown by ``cnnlab models``.  Registration also records what the model is
checked against (`ModelInfo`): the torchvision builder of the same
architecture, if any, and the figures published for it, so that tests and
``benchmarks/zoo.py`` are generated from the registry instead of typed twice.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from torch import nn

from cnnlab.errors import ConfigError, UnknownNameError
from cnnlab.models.features import features_only as _features_only
from cnnlab.models.geometry import check_geometry
from cnnlab.models.pretrained import (
    PretrainedWeights,
    find_weights_file,
    is_weights_name,
    pretrained_weights,
)
from cnnlab.models.weights import load_torchvision_weights, read_state_dict
from cnnlab.nn.norm import replace_norms, standardize_weights

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class Reference:
    """Published figures of an architecture and where they come from.

    ``params`` is the parameter count and ``macs`` the multiply-adds of one
    forward pass at ``input_shape`` (C, H, W), for ``num_classes`` outputs;
    ``top1`` is the published top-1 accuracy (%) on the data set the source
    reports, when there is one.  ``source`` cites paper and table.

    ``params_rounding`` is the unit of the last digit the source prints for
    ``params`` when it rounds it (1e6 for "12M", 1e5 for "9.2M"; None for an
    exact or finer figure): the true count is only known to within half of it,
    so the check allows that much where it exceeds the usual 1 %.
    """

    source: str
    params: int | None = None
    macs: float | None = None
    top1: float | None = None
    input_shape: tuple[int, int, int] = (3, 224, 224)
    num_classes: int = 1000
    params_rounding: float | None = None


@dataclass(frozen=True)
class ModelInfo:
    """A registered builder and what it is checked against.

    ``torchvision`` names the builder in `torchvision.models` with the same
    architecture (exact parameter count, loadable weights, same logits).
    ``kwargs`` are the builder options that reproduce the ``reference`` and
    torchvision configuration (e.g. ``num_classes=1000, in_chans=3``).
    """

    name: str
    builder: ModelBuilder
    torchvision: str | None = None
    reference: Reference | None = None
    kwargs: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    fn: ModelBuilder | None = None,
    *,
    torchvision: str | None = None,
    reference: Reference | None = None,
    **kwargs,
):
    """Register a model builder under its function's name.

    A model named ``resnet50`` is therefore a function ``def resnet50(...)`` that
    can be found by name and imported from its family's module.  ``torchvision``
    and ``reference`` record what the model is verified against (see
    `ModelInfo`); extra keyword arguments are the builder options used for
    that comparison.
    """

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        key = builder.__name__
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} is registered twice")
        _REGISTRY[key] = ModelInfo(key, builder, torchvision, reference, dict(kwargs))
        return builder

    return decorator(fn) if fn is not None else decorator


def model_info(name: str) -> ModelInfo:
    """The `ModelInfo` of a registered model."""
    if name not in _REGISTRY:
        raise UnknownNameError("model", name, _REGISTRY)
    return _REGISTRY[name]


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered models, sorted; only those matching the shell-style
    ``pattern`` when one is given (``"resnet*"``, ``"*_bn"``; `fnmatch.fnmatchcase`)."""
    names = sorted(_REGISTRY)
    return names if pattern is None else [n for n in names if fnmatchcase(n, pattern)]


def model_description(name: str) -> str:
    """First line of the builder's docstring."""
    doc = (_get_builder(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _get_builder(name: str) -> ModelBuilder:
    return model_info(name).builder


def default_options(name: str) -> dict[str, int]:
    """``num_classes`` and ``in_chans`` that ``create_model(name)`` uses when not given.

    They are the builder's own defaults, which are the values the architecture
    was published with (the ``Reference`` where the registry records one):
    ``create_model("resnet18")`` is the 1000-class, 3-channel ImageNet network
    and ``create_model("resnet20")`` the 10-class CIFAR one.
    """
    parameters = inspect.signature(_get_builder(name)).parameters
    return {
        key: parameters[key].default
        for key in ("num_classes", "in_chans")
        if key in parameters and parameters[key].default is not inspect.Parameter.empty
    }


def create_model(
    name: str,
    num_classes: int | None = None,
    in_chans: int | None = None,
    weights: str | os.PathLike | None = None,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    pretrained: bool = False,
    **kwargs,
) -> nn.Module:
    """Build the registered model ``name``.

    Parameters
    ----------
    name: a name from `list_models`.
    num_classes: size of the classifier output; by default the one the model was
        published with (1000 for the ImageNet families, 10 for the CIFAR, MNIST
        and LeNet ones; `default_options`), as timm does.
    in_chans: number of input image channels; by default the published one (3,
        or 1 for the digit-sized LeNets and U-Net).
    weights: a local ``.pth`` or ``.safetensors`` state dict (torchvision's or
        cnnlab's) to load; the head is re-initialised for a different
        ``num_classes`` and the first convolution adapted for ``in_chans``
        (see `cnnlab.models.weights.load_torchvision_weights`).  Or the
        name of torchvision weights of the model (``"DEFAULT"``,
        ``"IMAGENET1K_V2"``), read from ``$CNNLAB_WEIGHTS`` or torch.hub's cache
        (see `cnnlab.models.pretrained`); the model then carries them,
        with their preprocessing, as ``model.pretrained_cfg``.
    pretrained: ``weights="DEFAULT"``.
    kwargs: family-specific options (documented on each builder), and three
        build options that work for every model: ``norm_layer`` replaces each
        batch norm by that `get_norm` layer (``'group'``,
        ``'lrn'``, ``'actnorm'``, ...); ``weight_std=True`` standardizes every
        convolution's weights (Qiao et al. 2019); ``strict=True`` raises a
        `GeometryError` when a layer's windows do not tile
        its input at the model's input size (its ``input_shape``, else
        ``input_size``, else the published ``Reference`` input size), instead of
        PyTorch's silent rounding down (see `cnnlab.models.geometry`).
    features_only: return the feature maps of the network's stages instead of
        class scores, as timm does: ``model(x)`` is a list of tensors and
        ``model.feature_info`` gives their channels, reductions and modules
        (see `cnnlab.models.stages`); the head is dropped and never runs.
    out_indices: with ``features_only``, the stages to return (0 is the first,
        the stem's output for ImageNet networks); all of them by default.
    """
    weights, named = _resolve_weights(name, weights, pretrained)
    strict = bool(kwargs.pop("strict", False))
    norm_layer = kwargs.pop("norm_layer", None)
    weight_std = bool(kwargs.pop("weight_std", False))
    builder = _get_builder(name)
    defaults = default_options(name)
    num_classes = defaults["num_classes"] if num_classes is None else num_classes
    in_chans = defaults["in_chans"] if in_chans is None else in_chans
    if int(num_classes) < 1:
        raise ConfigError(f"num_classes must be >= 1, got {num_classes}.")
    if int(in_chans) < 1:
        raise ConfigError(f"in_chans must be >= 1, got {in_chans}.")
    try:
        model = builder(num_classes=int(num_classes), in_chans=int(in_chans), **kwargs)
    except TypeError as exc:
        raise ConfigError(f"Bad options for model {name!r}: {exc}.") from exc
    if weights is not None:
        report = load_torchvision_weights(model, read_state_dict(weights))
        if report.reinitialized or report.adapted:
            warnings.warn(f"{name} weights from {weights}: {report}", stacklevel=2)
    if named is not None:
        model.pretrained_cfg = named
    if norm_layer is not None:
        replace_norms(model, norm_layer)
    if weight_std:
        standardize_weights(model)
    if strict:
        check_geometry(model, _strict_shape(name, model, int(in_chans), kwargs.get("input_size")))
    if features_only:
        return _features_only(model, int(in_chans), out_indices, name)
    if out_indices is not None:
        raise ConfigError("out_indices selects feature maps: pass features_only=True with it.")
    return model


def _resolve_weights(
    name: str, weights: str | os.PathLike | None, pretrained: bool
) -> tuple[str | os.PathLike | None, PretrainedWeights | None]:
    """The file to load and, for torchvision weights given by name, what they are."""
    if pretrained:
        if weights is not None:
            raise ConfigError("Pass either pretrained=True or weights=..., not both.")
        weights = "DEFAULT"
    if not is_weights_name(weights):
        return weights, None
    named = pretrained_weights(name, model_info(name).torchvision, str(weights))
    return find_weights_file(named), named


def _strict_shape(
    name: str, model: nn.Module, in_chans: int, input_size: int | None
) -> tuple[int, int, int]:
    """The input shape ``strict=True`` checks: the model's, ``input_size``, or the published one."""
    if getattr(model, "input_shape", None) is not None:
        return tuple(model.input_shape)
    if input_size is not None:
        return (in_chans, int(input_size), int(input_size))
    reference = model_info(name).reference
    if reference is None:
        raise ConfigError(
            f"strict=True needs the input size of {name!r}: pass input_size=N "
            "(or use create_model_for_input)."
        )
    return (in_chans, *reference.input_shape[1:])


def create_model_for_input(
    name: str, num_classes: int, input_shape: tuple[int, int, int], **kwargs
) -> nn.Module:
    """`create_model` for images of ``input_shape`` (C, H, W).

    Builders whose geometry depends on the image size (LeNet-5's 32x32 versus
    28x28) declare an ``input_size`` argument; it is filled in from ``input_shape``.
    """
    if "input_size" in inspect.signature(_get_builder(name)).parameters:
        kwargs.setdefault("input_size", input_shape[1])
    strict = bool(kwargs.pop("strict", False))
    model = create_model(name, num_classes=num_classes, in_chans=input_shape[0], **kwargs)
    if strict:
        check_geometry(model, tuple(input_shape))
    return model
