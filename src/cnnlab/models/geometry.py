"""A model's geometry at one input size: receptive fields and layers that drop pixels.

Receptive fields follow the recurrence of Araujo, Norris & Sim (2019),
"Computing receptive fields of convolutional neural networks", Distill:
r_l = r_{l−1} + (k_l − 1)·d_l·j_{l−1} and j_l = j_{l−1}·s_l.  Instead of
assuming a chain of layers, `trace_geometry` carries (r, j) on every
tensor of one forward pass (a `TorchFunctionMode`),
so that it follows the graph: a sum (residual shortcut), a product (a
squeeze-and-excitation gate) or a concatenation (inception, DenseNet) sees
the union of its inputs' fields, which for centred fields is the largest
one (Araujo et al., "Handling multiple paths"; they are aligned in the
networks here).

* ``conv2d`` and 2-D max/average pooling: the recurrence with their kernel,
  stride and dilation;
* any other op that shrinks a map from H_in to H_out (adaptive pooling):
  s = H_in // H_out, k = H_in − (H_out − 1)·s; a strided slice: k = 1;
* flattening keeps the map's extent for the next linear layer, which sees it
  whole; a reduction over H and W (global pooling) sees it whole at once;
* an op that enlarges a map (transposed convolution, interpolation) makes
  the field unknown (None) from there on.

A convolution or pooling layer whose windows do not tile its input drops the
last rows and columns under PyTorch's floor semantics (AlexNet's 11x11/4
first layer at 224x224: 54.25 rounds down to 54).  `trace_geometry`
notes every such layer with the formula (`cnnlab.nn.geometry.tiling_note`);
`check_geometry` raises them as a `GeometryError`
with the nearest input sizes at which every layer tiles.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.conv import _ConvTransposeNd
from torch.nn.modules.utils import _pair
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from cnnlab.errors import GeometryError
from cnnlab.nn.geometry import tiling_note
from cnnlab.nn.hooks import hooks

__all__ = ["CallGeometry", "check_geometry", "fitting_input_sizes", "trace_geometry"]

_FIELD = "_cnnlab_receptive_field"
_POOLS = {F.max_pool2d, F.avg_pool2d, F.max_pool2d_with_indices, F.lp_pool2d}
_SEARCH = 64  # input sizes tried on either side by fitting_input_sizes


class _Field(NamedTuple):
    """Receptive field ``size`` of a unit (None: unknown), ``jump`` between units, and
    ``whole``: the field of a unit that sees the whole map (None: unknown)."""

    size: int | None
    jump: int
    whole: int | None


@dataclass(frozen=True)
class CallGeometry:
    """One module call: the receptive field of its output (None: unknown) and, for a
    convolution or pooling layer that drops input pixels, why (else None)."""

    receptive_field: int | None
    note: str | None


def trace_geometry(
    model: nn.Module, input_shape: tuple[int, int, int]
) -> dict[str, list[CallGeometry]]:
    """Per module name, the geometry of each of its calls in one forward pass (in order).

    The pass runs on a zero batch of size 1, in eval mode without gradients;
    the model's modes are restored and the hooks removed afterwards.
    """
    param = next(model.parameters(), None)
    x = torch.zeros(1, *input_shape, device=param.device if param is not None else None)
    calls: dict[str, list[CallGeometry]] = defaultdict(list)
    notes: dict[str, str | None] = {}

    def before(name: str, module: nn.Module, args: tuple[Any, ...]) -> None:
        notes[name] = _note(module, args[0]) if args else None

    def after(name: str, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        field = _field_of(output)
        calls[name].append(CallGeometry(field.size if field else None, notes.pop(name, None)))

    names = [name for name, _ in model.named_modules()]
    modes = {m: m.training for m in model.modules()}
    finish = {name: _bind(after, name) for name in names}
    start = {name: _bind(before, name) for name in names}
    try:
        model.eval()
        with hooks(model, finish, pre=start), torch.no_grad(), _FieldMode():
            _set_field(x, _Field(1, 1, input_shape[1]))
            model(x)
    finally:
        for module, mode in modes.items():
            module.training = mode
    return dict(calls)


def check_geometry(model: nn.Module, input_shape: tuple[int, int, int]) -> None:
    """Raise `GeometryError` if a layer drops input pixels at ``input_shape``.

    The message lists every such layer with its formula and the nearest input
    sizes at which all layers tile their inputs.
    """
    notes = _notes(trace_geometry(model, input_shape))
    if not notes:
        return
    c, h, w = input_shape
    lines = "\n".join(f"  {name}: {note}" for name, note in notes)
    sizes = fitting_input_sizes(model, input_shape)
    fit = (
        f"Inputs of {' or '.join(f'{c}x{s}x{s}' for s in sizes)} fit every layer."
        if sizes
        else f"No input size within {_SEARCH} pixels fits every layer."
    )
    raise GeometryError(
        f"At {c}x{h}x{w} these layers do not tile their inputs (PyTorch would drop the "
        f"last rows and columns):\n{lines}\n{fit}"
    )


def fitting_input_sizes(model: nn.Module, input_shape: tuple[int, int, int]) -> list[int]:
    """The nearest square input sizes (one below, one above) at which no layer drops pixels.

    Tried on a copy of the model on the ``meta`` device (shapes only, nothing is
    computed), with the input-size check of models built for one size lifted.
    A size at which the forward pass fails before reaching every layer is skipped.
    """
    c, h, _ = input_shape
    meta = copy.deepcopy(model).to("meta")
    for module in meta.modules():
        if getattr(module, "input_shape", None) is not None:
            module.input_shape = None
    layers = [m for m in meta.modules() if _geometry(m) is not None]
    below = next(
        (s for s in range(h - 1, max(h - _SEARCH, 0), -1) if _fits(meta, layers, c, s)), None
    )
    above = next((s for s in range(h + 1, h + _SEARCH) if _fits(meta, layers, c, s)), None)
    return [s for s in (below, above) if s is not None]


def _fits(model: nn.Module, layers: list[nn.Module], channels: int, size: int) -> bool:
    seen: list[str | None] = []
    probes = {m: (lambda module, args: seen.append(_note(module, args[0]))) for m in layers}
    try:
        with hooks(model, {}, pre=probes), torch.no_grad():
            model(torch.empty(1, channels, size, size, device="meta"))
    except (RuntimeError, GeometryError, NotImplementedError):
        pass
    return len(seen) >= len(layers) and not any(seen)


def _notes(calls: dict[str, list[CallGeometry]]) -> list[tuple[str, str]]:
    return [(name, c.note) for name, per in calls.items() for c in per if c.note]


def _bind(fn, name: str):
    return lambda *args: fn(name, *args)


def _geometry(module: nn.Module) -> tuple[tuple[int, int], ...] | None:
    """(kernel, stride, padding, dilation) pairs of a 2-D convolution or pooling layer."""
    if isinstance(module, _ConvTransposeNd) or not isinstance(
        module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d
    ):
        return None
    padding = 0 if module.padding == "valid" else module.padding
    stride = module.stride or module.kernel_size
    return tuple(
        _pair(v) for v in (module.kernel_size, stride, padding, getattr(module, "dilation", 1))
    )


def _note(module: nn.Module, x: Any) -> str | None:
    geometry = _geometry(module)
    if geometry is None or not isinstance(x, torch.Tensor) or x.dim() != 4:
        return None
    if getattr(module, "ceil_mode", False) or module.padding == "same":
        return None  # 'same' pads to fit; ceil mode adds a partial window
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geometry
    for axis, n, k, s, p, d in (
        ("rows", x.shape[2], kh, sh, ph, dh),
        ("columns", x.shape[3], kw, sw, pw, dw),
    ):
        note = tiling_note(n, k, s, p, d)
        if note:
            return f"{axis}: {note}"
    return None


class _FieldMode(TorchFunctionMode):
    """Carries a `_Field` from the inputs of every torch function to its outputs."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        fields = [f for t in inputs if (f := getattr(t, _FIELD, None)) is not None]
        if fields:
            source = next(t for t in inputs if getattr(t, _FIELD, None) is not None)
            field = _propagate(func, args, kwargs, _merge(fields), source, out)
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor):
                    _set_field(t, field)
        return out


def _merge(fields: list[_Field]) -> _Field:
    sizes = [f.size for f in fields]
    wholes = [f.whole for f in fields if f.whole is not None]
    return _Field(
        None if None in sizes else max(sizes),
        max(f.jump for f in fields),
        max(wholes) if wholes else None,
    )


def _propagate(func, args, kwargs, field: _Field, x: torch.Tensor, out: Any) -> _Field:
    y = next((t for t in tree_leaves(out) if isinstance(t, torch.Tensor)), None)
    if y is None:
        return field
    if x.dim() == 4 and y.dim() == 4:
        return _map_to_map(func, args, kwargs, field, x.shape[2], y.shape[2])
    if x.dim() == 4 and y.numel() != x.numel():  # a reduction over the map sees all of it
        return _Field(field.whole, field.jump, field.whole)
    if x.dim() != 4 and func in (F.linear, torch.matmul):  # mixes a flattened map
        return _Field(field.whole, field.jump, field.whole)
    return field  # flatten, view, element-wise


def _map_to_map(func, args, kwargs, field: _Field, h_in: int, h_out: int) -> _Field:
    """The field after an op from an H_in map to an H_out map."""
    if func in (torch.conv2d, F.conv2d):
        k = args[1].shape[-2]
        s = _pair(_arg(args, kwargs, 3, "stride", 1))[0]
        d = _pair(_arg(args, kwargs, 5, "dilation", 1))[0]
    elif func in _POOLS:
        k = _pair(_arg(args, kwargs, 1, "kernel_size", 1))[0]
        s = _pair(_arg(args, kwargs, 2, "stride", None) or k)[0]
        d = _pair(kwargs.get("dilation", 1))[0] if func is not F.avg_pool2d else 1
    elif h_out > h_in:  # transposed convolution, up-sampling: no integer jump
        return _Field(None, field.jump, field.whole)
    elif h_out == h_in:
        return field
    else:
        s, d = h_in // h_out, 1
        k = 1 if func is torch.Tensor.__getitem__ else h_in - (h_out - 1) * s
    if field.size is None:
        return field
    size, jump = field.size + (k - 1) * d * field.jump, field.jump * s
    return _Field(size, jump, size + (h_out - 1) * jump)


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _field_of(output: Any) -> _Field | None:
    tensor = next((t for t in tree_leaves(output) if isinstance(t, torch.Tensor)), None)
    return getattr(tensor, _FIELD, None) if tensor is not None else None


def _set_field(tensor: torch.Tensor, field: _Field) -> None:
    setattr(tensor, _FIELD, field)
