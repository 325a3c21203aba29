"""Shared machinery: hooks that are always removed, model state that is always restored.

Every explanation method runs inside :func:`explaining`, which puts the model in
eval mode and stops gradients from accumulating in its parameters, and gives
both back afterwards, also when the method raises.  Activations of inner layers
are read with :func:`capture`, whose forward hooks are removed on exit, also on
error, so that a model never keeps hooks from an explanation (a known pain point
of hook-based libraries).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from functools import partial

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from cnnlab.errors import ConfigError, UnknownNameError


@contextlib.contextmanager
def removing(handles: list[RemovableHandle]) -> Iterator[list[RemovableHandle]]:
    """Yield ``handles`` (a list to append hook handles to); remove them all on exit."""
    try:
        yield handles
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def explaining(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and frozen parameters for the duration of an explanation.

    Eval mode makes the explanation deterministic (dropout off, batch norm with
    its running statistics, so images in a batch do not influence each other);
    frozen parameters keep ``.grad`` of the weights untouched and save the memory
    of their gradients.  Both are restored on exit, also on error.
    """
    modes = [(module, module.training) for module in model.modules()]
    flags = [(param, param.requires_grad) for param in model.parameters()]
    try:
        model.eval()
        for param, _ in flags:
            param.requires_grad_(False)
        yield model
    finally:
        for module, training in modes:
            module.training = training
        for param, requires_grad in flags:
            param.requires_grad_(requires_grad)


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (as in ``model.named_modules()``)."""
    modules = dict(model.named_modules())
    if not name or name not in modules:
        raise UnknownNameError("layer", name, [n for n in modules if n])
    return modules[name]


def _store(
    store: dict[str, torch.Tensor], name: str, module: nn.Module, args: tuple, output: object
) -> torch.Tensor | None:
    if not isinstance(output, torch.Tensor):
        return None
    store[name] = output
    # Later in-place operations (ReLU(inplace=True)) would overwrite the stored
    # activation; the rest of the network computes on a copy instead.
    return output.clone()


@contextlib.contextmanager
def capture(model: nn.Module, layers: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Record the output of each named layer in the yielded dict during forward passes.

    The stored tensors stay in the autograd graph, so gradients of a score with
    respect to them can be taken with :func:`torch.autograd.grad`.  A module
    called several times in one pass keeps its last output.
    """
    store: dict[str, torch.Tensor] = {}
    modules = {name: get_layer(model, name) for name in layers}
    with removing([]) as handles:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(partial(_store, store, name)))
        yield store


def trace_outputs(
    model: nn.Module, x: torch.Tensor, keep: Callable[[nn.Module, torch.Tensor], bool]
) -> list[tuple[str, torch.Tensor]]:
    """(name, output) of every named submodule for which ``keep`` holds, in execution order.

    Runs one forward pass of ``x`` without gradients.
    """
    calls: list[tuple[str, torch.Tensor]] = []

    def record(name: str, module: nn.Module, args: tuple, output: object) -> None:
        if isinstance(output, torch.Tensor) and keep(module, output):
            calls.append((name, output))

    with removing([]) as handles, torch.no_grad():
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(partial(record, name)))
        model(x)
    return calls


def last_spatial_layer(model: nn.Module, x: torch.Tensor) -> str:
    """Name of the last layer (in execution order) whose output is an (N, C, H, W) map, H·W > 1.

    The default layer of the class activation maps: the deepest layer that still
    has a spatial layout (Selvaraju et al. 2017, Sec. 3: "the last convolutional layer").
    """

    def spatial(module: nn.Module, output: torch.Tensor) -> bool:
        return output.dim() == 4 and output.shape[-2] * output.shape[-1] > 1

    calls = trace_outputs(model, x[:1], spatial)
    if not calls:
        raise ConfigError(
            "No layer of this model outputs a spatial (N, C, H, W) map larger than 1x1; "
            "pass layer= with the name of the layer to explain."
        )
    return calls[-1][0]
