"""Layer table of a model: output shape, parameters, multiply-adds, receptive field.

The table of the lecture (and of LeCun et al. 1998 for LeNet-5): one row per
layer that has parameters or changes the shape of its input; parameter-free
shape-preserving layers (activations, dropout) are folded into the row above.
Shapes and multiply-adds come from one forward pass of a zero batch of size 1.

Per row:

* parameters: the module's own parameters, K·(F·F·D/groups) + K for a conv;
* multiply-adds (MACs), from the one counter, `cnnlab.metrics.cost.trace_macs`
  (``torch.utils.flop_counter``, FLOPs = 2·MACs): K·(F·F·D/groups)·H_out·W_out
  for a conv (only the connected kernels for
  `PartialConv2d`), in·out for a linear layer,
  k²·C·H_out·W_out for `Subsample2d`; normalization,
  pooling and activations cost none.  Calls without a row of their own
  (containers, a model's own ``forward`` code) add theirs to the row above, so
  that the column sums to `cnnlab.metrics.cost.count_flops` / 2;
* receptive field: side of the input window one unit sees, from the recurrence
  r_l = r_{l−1} + (k_l − 1)·d_l·j_{l−1}, j_l = j_{l−1}·s_l (Araujo et al. 2019),
  carried along the graph by `cnnlab.models.geometry.trace_geometry`, so
  that it continues through residual, gated and concatenating blocks (a sum
  or concatenation sees the largest field of its inputs).  A layer that sees
  the whole map (linear after flatten, global pooling) adds the map's extent;
  a layer that enlarges a map (transposed conv, up-sampling) makes the column
  unknown ("-") from there on;
* note: a convolution or pooling layer whose windows do not tile its input
  (PyTorch rounds the output size down and drops input pixels) gets the
  formula with the numbers and the sizes that would fit; the formatted table
  marks its row with ``!`` and lists the notes below the totals.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.utils import _pair

from cnnlab.errors import ConfigError
from cnnlab.metrics.cost import count_parameters, trace_macs
from cnnlab.models.geometry import trace_geometry

_FOLDED = (nn.Flatten, nn.Unflatten, nn.Identity)

__all__ = ["LayerRow", "count_parameters", "format_layer_table", "layer_table"]


@dataclass(frozen=True)
class LayerRow:
    """One row of `layer_table`; ``receptive_field`` is None when unknown, ``note``
    says why the layer drops input pixels (None when it does not)."""

    name: str
    kind: str
    kernel: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    receptive_field: int | None
    note: str | None = None


def layer_table(
    model: nn.Module, input_shape: tuple[int, int, int] | None = None
) -> list[LayerRow]:
    """Rows for the input and every layer of ``model`` on a (C, H, W) input.

    ``input_shape`` defaults to the model's ``input_shape`` attribute (set by
    models whose head depends on the input size).  The model is run in eval
    mode under ``torch.no_grad`` and put back in its previous modes.
    """
    input_shape = input_shape or getattr(model, "input_shape", None)
    if input_shape is None:
        raise ConfigError("layer_table needs input_shape=(C, H, W) for this model.")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    calls = trace_macs(model, torch.zeros(1, *input_shape, device=device))
    geometry = trace_geometry(model, tuple(input_shape))
    rows = [LayerRow("input", "Input", "", tuple(input_shape), 0, 0, 1)]
    seen: set[int] = set()
    occurrence: Counter[str] = Counter()
    unshown = 0  # MACs of calls before the first row
    for call in calls:
        module, x_shape, y_shape = call.module, call.input_shape, call.output_shape
        index = occurrence[call.name]
        occurrence[call.name] += 1
        own = sum(p.numel() for p in module.parameters(recurse=False))
        is_leaf = next(module.children(), None) is None
        changes = is_leaf and x_shape != y_shape and not isinstance(module, _FOLDED)
        if not call.name or x_shape is None or y_shape is None or not (own or changes):
            if len(rows) > 1:
                rows[-1] = dataclasses.replace(rows[-1], macs=rows[-1].macs + call.macs)
            else:
                unshown += call.macs
            continue
        traced = geometry[call.name][index]
        rows.append(
            LayerRow(
                call.name,
                type(module).__name__,
                _kernel_text(module),
                tuple(y_shape[1:]),
                0 if id(module) in seen else own,
                call.macs + unshown,
                traced.receptive_field,
                traced.note,
            )
        )
        unshown = 0
        seen.add(id(module))
    return rows


def format_layer_table(rows: list[LayerRow]) -> str:
    """The rows as a fixed-width text table with a totals line."""
    header = ("Layer", "Type", "Kernel/stride", "Output", "Params", "MACs", "RF")
    body = [
        (
            r.name + (" !" if r.note else ""),
            r.kind,
            r.kernel,
            "x".join(map(str, r.output_shape)),
            f"{r.params:,}",
            f"{r.macs:,}",
            "-" if r.receptive_field is None else str(r.receptive_field),
        )
        for r in rows
    ]
    params, macs = sum(r.params for r in rows), sum(r.macs for r in rows)
    total = ("Total", "", "", "", f"{params:,}", f"{macs:,}", "")
    widths = [max(len(line[i]) for line in [header, *body, total]) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        cells = [
            c.ljust(w) if i < 4 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(fmt(tuple("-" * w for w in widths)))
    notes = [f"! {r.name}: {r.note}" for r in rows if r.note]
    return "\n".join([fmt(header), rule, *map(fmt, body), rule, fmt(total), *notes])


def _kernel_text(module: nn.Module) -> str:
    if not hasattr(module, "kernel_size"):
        return ""
    kh, kw = _pair(module.kernel_size)
    stride = getattr(module, "stride", None)
    return f"{kh}x{kw}" + ("" if stride is None else f"/{_pair(stride)[0]}")
