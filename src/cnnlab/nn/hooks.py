"""Hooks that are always removed: what named layers compute, read inside a ``with`` block.

A hook registered by hand stays on its module until ``handle.remove()`` runs;
an exception in between leaves it there, and every later forward pass runs it
again (a known pain point of hook-based code).  Every hook of cnnlab is
registered here, by a context manager that removes it on exit, also when the
block raises:

* `hooks`: the general form, ``{layer: function}`` for forward hooks,
  forward pre-hooks and gradient hooks;
* `capture_activations`, `capture_inputs`, `capture_gradients`:
  a dict ``{layer: tensor}`` filled by the forward (backward) passes run in the block;
* `trace_outputs`: (name, output) of every module call of one forward pass.

A layer is a name from ``model.named_modules()`` (``""`` is the model itself)
or the submodule itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from cnnlab.errors import UnknownNameError

Layer = str | nn.Module
#: ``f(module, args, output)``, after each call; a return value other than None replaces
#: the output (as for `torch.nn.Module.register_forward_hook`).
ForwardHook = Callable[[nn.Module, tuple[Any, ...], Any], Any]
#: ``f(module, args)``, before each call; a return value other than None replaces the args.
ForwardPreHook = Callable[[nn.Module, tuple[Any, ...]], Any]
#: ``f(module, call, grad)``: ∂L/∂output of the ``call``-th call (from 1) of the module.
GradientHook = Callable[[nn.Module, int, torch.Tensor], None]

K = TypeVar("K", str, nn.Module)


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (as in ``model.named_modules()``).

    Raises
    ------
    UnknownNameError
        ``name`` is empty or not a submodule; the message lists the valid names.
    """
    modules = dict(model.named_modules())
    if not name or name not in modules:
        raise UnknownNameError("layer", name, [n for n in modules if n])
    return modules[name]


def _resolve(model: nn.Module, layers: Sequence[Layer]) -> list[nn.Module]:
    """The modules of ``layers``, all looked up before any hook is registered."""
    modules = dict(model.named_modules())
    found = []
    for layer in layers:
        if isinstance(layer, nn.Module):
            found.append(layer)
        elif layer in modules:
            found.append(modules[layer])
        else:
            raise UnknownNameError("layer", layer, [n for n in modules if n])
    return found


class _GradientWatch:
    """A forward hook that numbers the calls of a module and hooks each output's gradient."""

    def __init__(self, fn: GradientHook, handles: list[RemovableHandle]):
        self.fn, self.handles, self.calls = fn, handles, 0

    def __call__(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        self.calls += 1
        if isinstance(output, torch.Tensor) and output.requires_grad:
            self.handles.append(output.register_hook(partial(self.fn, module, self.calls)))


@contextlib.contextmanager
def hooks(
    model: nn.Module,
    forward: Mapping[Layer, ForwardHook] | None = None,
    *,
    pre: Mapping[Layer, ForwardPreHook] | None = None,
    gradient: Mapping[Layer, GradientHook] | None = None,
) -> Iterator[None]:
    """Hooks on layers of ``model`` for the duration of the block.

    Parameters
    ----------
    model
        the network whose layers are named.
    forward
        ``{layer: f(module, args, output)}``, run after each call of the layer.
    pre
        ``{layer: f(module, args)}``, run before each call of the layer.
    gradient
        ``{layer: f(module, call, grad)}``, run by a backward pass inside the
        block with ∂L/∂output of the layer's ``call``-th call in the block (counted
        from 1), for outputs that are tensors requiring grad.

    Every name is looked up before anything is registered (an unknown one raises
    `UnknownNameError` listing the valid names), and every
    hook, also those on output tensors, is removed on exit, also when the block raises.
    """
    plan = [
        *((layer, fn, "forward") for layer, fn in (forward or {}).items()),
        *((layer, fn, "pre") for layer, fn in (pre or {}).items()),
        *((layer, fn, "gradient") for layer, fn in (gradient or {}).items()),
    ]
    modules = _resolve(model, [layer for layer, _, _ in plan])
    handles: list[RemovableHandle] = []
    try:
        for module, (_, fn, kind) in zip(modules, plan, strict=True):
            if kind == "pre":
                handles.append(module.register_forward_pre_hook(fn))
            elif kind == "gradient":
                handles.append(module.register_forward_hook(_GradientWatch(fn, handles)))
            else:
                handles.append(module.register_forward_hook(fn))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _keep_output(
    store: dict, layer: Layer, module: nn.Module, args: tuple, output: Any
) -> torch.Tensor | None:
    if not isinstance(output, torch.Tensor):
        return None
    store[layer] = output
    # A later in-place operation (ReLU(inplace=True)) would overwrite the kept
    # activation; the rest of the network computes on a copy instead.
    return output.clone()


@contextlib.contextmanager
def capture_activations(model: nn.Module, layers: Sequence[K]) -> Iterator[dict[K, torch.Tensor]]:
    """``{layer: output}`` of the forward passes run in the block.

    The kept outputs stay in the autograd graph, so gradients of a score with
    respect to them can be taken with `torch.autograd.grad`.  A layer
    called several times keeps its last output; one that returns no tensor is
    left out.
    """
    store: dict[K, torch.Tensor] = {}
    with hooks(model, {layer: partial(_keep_output, store, layer) for layer in layers}):
        yield store


def _keep_input(store: dict, layer: Layer, module: nn.Module, args: tuple) -> None:
    if args and isinstance(args[0], torch.Tensor):
        store[layer] = args[0]


@contextlib.contextmanager
def capture_inputs(model: nn.Module, layers: Sequence[K]) -> Iterator[dict[K, torch.Tensor]]:
    """``{layer: first positional input}`` of the forward passes run in the block.

    The tensor is the one the layer received (not a copy), as the previous layer
    left it; a layer called several times keeps its last input.
    """
    store: dict[K, torch.Tensor] = {}
    with hooks(model, pre={layer: partial(_keep_input, store, layer) for layer in layers}):
        yield store


def _keep_gradient(
    store: dict, seen: dict, layer: Layer, module: nn.Module, call: int, grad: torch.Tensor
) -> None:
    if call >= seen.get(layer, 0):
        store[layer], seen[layer] = grad, call


@contextlib.contextmanager
def capture_gradients(model: nn.Module, layers: Sequence[K]) -> Iterator[dict[K, torch.Tensor]]:
    """``{layer: ∂L/∂output}``, filled by the backward passes run in the block.

    L is whatever ``backward()`` or `torch.autograd.grad` differentiates.
    A layer called several times keeps the gradient of its last call.
    """
    store: dict[K, torch.Tensor] = {}
    seen: dict[K, int] = {}
    watches = {layer: partial(_keep_gradient, store, seen, layer) for layer in layers}
    with hooks(model, gradient=watches):
        yield store


def trace_outputs(
    model: nn.Module, x: torch.Tensor, keep: Callable[[nn.Module, torch.Tensor], bool]
) -> list[tuple[str, torch.Tensor]]:
    """(name, output) of every named submodule call for which ``keep`` holds, in the order
    the calls finish (a module after its submodules).

    Runs one forward pass of ``x`` without gradients.
    """
    calls: list[tuple[str, torch.Tensor]] = []

    def record(name: str, module: nn.Module, args: tuple, output: Any) -> None:
        if isinstance(output, torch.Tensor) and keep(module, output):
            calls.append((name, output))

    names = [name for name, _ in model.named_modules() if name]
    with hooks(model, {name: partial(record, name) for name in names}), torch.no_grad():
        model(x)
    return calls
