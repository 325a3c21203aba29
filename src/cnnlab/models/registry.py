"""Model registry: ``@register_model``, ``create_model`` and ``list_models``.

A builder is a function ``builder(num_classes=..., in_chans=..., **kwargs) -> nn.Module``
registered under a name; its docstring's first line is the one-line description
shown by ``cnnlab models``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

from cnnlab.errors import ConfigError, UnknownNameError

ModelBuilder = Callable[..., nn.Module]
_REGISTRY: dict[str, ModelBuilder] = {}


def register_model(fn: ModelBuilder | None = None, *, name: str | None = None):
    """Register a model builder under ``name`` (default: the function's name)."""

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        key = name or builder.__name__
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} is registered twice")
        _REGISTRY[key] = builder
        return builder

    return decorator(fn) if fn is not None else decorator


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_REGISTRY)


def model_description(name: str) -> str:
    """First line of the builder's docstring."""
    doc = (_get_builder(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _get_builder(name: str) -> ModelBuilder:
    if name not in _REGISTRY:
        raise UnknownNameError("model", name, _REGISTRY)
    return _REGISTRY[name]


def create_model(name: str, num_classes: int = 10, in_chans: int = 1, **kwargs) -> nn.Module:
    """Build the registered model ``name``.

    Parameters
    ----------
    name: a name from :func:`list_models`.
    num_classes: size of the classifier output.
    in_chans: number of input image channels.
    kwargs: family-specific options (documented on each builder).
    """
    builder = _get_builder(name)
    if int(num_classes) < 1:
        raise ConfigError(f"num_classes must be >= 1, got {num_classes}.")
    if int(in_chans) < 1:
        raise ConfigError(f"in_chans must be >= 1, got {in_chans}.")
    try:
        return builder(num_classes=int(num_classes), in_chans=int(in_chans), **kwargs)
    except TypeError as exc:
        raise ConfigError(f"Bad options for model {name!r}: {exc}.") from exc


def create_model_for_input(
    name: str, num_classes: int, input_shape: tuple[int, int, int], **kwargs
) -> nn.Module:
    """:func:`create_model` for images of ``input_shape`` (C, H, W).

    Builders whose geometry depends on the image size (LeNet-5's 32x32 versus
    28x28) declare an ``input_size`` argument; it is filled in from ``input_shape``.
    """
    if "input_size" in inspect.signature(_get_builder(name)).parameters:
        kwargs.setdefault("input_size", input_shape[1])
    return create_model(name, num_classes=num_classes, in_chans=input_shape[0], **kwargs)
