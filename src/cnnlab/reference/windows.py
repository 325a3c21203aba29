"""Sliding windows shared by convolution and pooling: padding, output sizes, zero insertion.

Sizes follow the CNN lecture ("Rozmiar mapy cech") and Dumoulin & Visin
(2016), "A guide to convolution arithmetic for deep learning", relationships
15 and 14, written with the two sides of the padding apart so that uneven
padding is expressed exactly:

    W_out = (W + P_before + P_after − F_eff)/S + 1,    F_eff = D·(F − 1) + 1
    W_out = (W − 1)·S − P_before − P_after + F_eff + output_padding   (transposed)

These are `cnnlab.nn.geometry`'s formulas with 2·P split in two.  This room
sits beside ``cnnlab.nn`` (rooms on one layer do not import each other, and
``cnnlab.nn`` loads PyTorch), so it states them here for NumPy alone.

Arrays are NCHW, like PyTorch's.  Padding is given as an int (all sides), a pair
``(ph, pw)`` (top = bottom = ph, left = right = pw) or a 4-tuple
``(top, bottom, left, right)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab.errors import GeometryError

Pair = int | tuple[int, int]
Padding = int | tuple[int, int] | tuple[int, int, int, int]


def pair(value: Pair, name: str) -> tuple[int, int]:
    """(height, width) of a kernel, stride, dilation or scale given as an int or a pair."""
    values = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(values) != 2 or any(int(v) < 1 for v in values):
        raise GeometryError(f"{name} must be an int >= 1 or a pair of them, got {value!r}.")
    return int(values[0]), int(values[1])


def padding4(padding: Padding) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair (ph, pw) or a 4-tuple."""
    if isinstance(padding, int | np.integer):
        values = (padding,) * 4
    elif len(padding) == 2:
        values = (padding[0], padding[0], padding[1], padding[1])
    else:
        values = tuple(padding)
    if len(values) != 4 or any(int(p) < 0 for p in values):
        raise GeometryError(
            "padding must be an int >= 0, a pair (ph, pw) or a 4-tuple (top, bottom, left, "
            f"right) of them, got {padding!r}."
        )
    return tuple(int(p) for p in values)


def pad(x: np.ndarray, padding: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """``x`` (N, C, H, W) with ``value`` added around its last two axes."""
    top, bottom, left, right = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def output_size(
    n: int,
    kernel: int,
    stride: int,
    padding: tuple[int, int],
    dilation: int,
    *,
    floor: bool,
    axis: str,
) -> int:
    """(n + P_before + P_after − F_eff)/S + 1 along one axis ('height' or 'width').

    Raises `GeometryError` when the kernel is larger than the padded
    input, or when it does not tile it and ``floor`` is false (with ``floor``,
    PyTorch's semantics: the last rows are never seen and get zero gradient).
    """
    before, after = padding
    f_eff = dilation * (kernel - 1) + 1
    padded = n + before + after
    span = padded - f_eff
    kernel_text = f"{kernel}" + (
        f" dilated by {dilation} (F_eff = {f_eff})" if dilation > 1 else ""
    )
    if span < 0:
        raise GeometryError(
            f"The {axis} of the kernel, {kernel_text}, is larger than the padded input "
            f"({n} + {before} + {after} = {padded}). Use an input {axis} of at least "
            f"{f_eff - before - after}, {f_eff - padded} more padding, or a smaller kernel."
        )
    if span % stride and not floor:
        rest, lines = span % stride, "row(s)" if axis == "height" else "column(s)"
        raise GeometryError(
            f"{axis}: ({n} + {before} + {after} − {f_eff})/{stride} + 1 = "
            f"{span / stride + 1:.2f} is not an integer: with stride {stride} the last {rest} "
            f"{lines} would never be seen. Pad {stride - rest} more after, crop {rest}, or "
            "pass floor=True for PyTorch's semantics."
        )
    return span // stride + 1


def transposed_output_size(
    n: int,
    kernel: int,
    stride: int,
    padding: tuple[int, int],
    dilation: int,
    output_padding: int,
    *,
    axis: str,
) -> int:
    """(n − 1)·S − P_before − P_after + F_eff + output_padding along one axis.

    ``output_padding`` chooses among the max(S, D) output sizes that the
    convolution with the same geometry maps back to ``n`` (PyTorch's rule).
    """
    before, after = padding
    f_eff = dilation * (kernel - 1) + 1
    largest = max(stride, dilation)
    if not 0 <= output_padding < largest:
        raise GeometryError(
            f"{axis}: output_padding must be in [0, max(stride, dilation)) = [0, {largest}), "
            f"got {output_padding}."
        )
    out = (n - 1) * stride - before - after + f_eff + output_padding
    if out < 1:
        raise GeometryError(
            f"{axis}: ({n} − 1)·{stride} − {before} − {after} + {f_eff} + {output_padding} = "
            f"{out}: the padding crops away the whole output. Use at most "
            f"{(n - 1) * stride + f_eff + output_padding - 1} padding in all on this axis."
        )
    return out


def windows(
    xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> np.ndarray:
    """Every receptive field of a padded input: (N, C, H_out, W_out, F_h, F_w), a view.

    ``windows(xp)[n, c, i, j, m, k] = xp[n, c, i·S_h + m·D_h, j·S_w + k·D_w]``: the
    pixels that output (i, j) sees through kernel tap (m, k).  Rows past the
    last whole window are dropped (floor).
    """
    (fh, fw), (sh, sw), (dh, dw) = kernel, stride, dilation
    extent = (dh * (fh - 1) + 1, dw * (fw - 1) + 1)
    return sliding_window_view(xp, extent, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]


def dilate(a: np.ndarray, step: tuple[int, int]) -> np.ndarray:
    """Insert ``step − 1`` zeros between neighbouring pixels of (N, C, H, W).

    The "fractionally strided" input of a transposed convolution (Dumoulin &
    Visin 2016, Sec. 4.5) and the bed of nails of unpooling.
    """
    sh, sw = step
    n, c, h, w = a.shape
    out = np.zeros((n, c, (h - 1) * sh + 1, (w - 1) * sw + 1), dtype=a.dtype)
    out[:, :, ::sh, ::sw] = a
    return out


def check_ndim(name: str, a: np.ndarray, ndim: int, layout: str) -> None:
    """Raise `GeometryError` unless ``a`` has ``ndim`` axes (``layout`` names them)."""
    if np.ndim(a) != ndim:
        raise GeometryError(f"{name} must be a {ndim}-D array {layout}, got shape {np.shape(a)}.")


def check_shape(name: str, a: np.ndarray, expected: Sequence[int]) -> None:
    """Raise `GeometryError` unless ``a.shape == expected``."""
    if tuple(np.shape(a)) != tuple(expected):
        raise GeometryError(f"{name} must have shape {tuple(expected)}, got {np.shape(a)}.")
