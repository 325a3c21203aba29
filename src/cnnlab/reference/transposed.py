"""Transposed convolution: the input gradient of a convolution, used as a layer.

A convolution is linear in its input, z = A(w)·o, so its input gradient is
∂E/∂o = A(w)ᵀ·δ (`conv2d_grad_input`).  A transposed
convolution ("deconvolution", the CNN lecture, "Unpooling i dekonwolucja"; Zeiler et al.
2010; Long, Shelhamer & Darrell 2015) is that map, A(w)ᵀ, applied to a feature
map to upsample it: every input pixel scatters a copy of the kernel, scaled by
its value, S pixels apart, and overlapping copies add up.  So the forward pass
here *is* ``conv2d_grad_input``, and the backward pass follows from (Aᵀ)ᵀ = A:

    y      = A(w)ᵀ·x + b
    ∂E/∂x  = A(w)·δ                    (a plain convolution of δ)
    ∂E/∂w  = conv2d_grad_weight with the roles of x and δ swapped
    ∂E/∂b  = Σ δ over batch and pixels

The weight has PyTorch's ``ConvTranspose2d`` layout (C_in, C_out/G, F_h, F_w),
which is the layout of the convolution it transposes (that convolution maps
C_out channels to C_in).  Padding removes rows from the output, as it added
them to the convolution's input; the output size is (Dumoulin & Visin 2016,
relationship 14, with the two sides apart):

    H_out = (H − 1)·S − P_top − P_bottom + F_eff + output_padding

A convolution with stride S maps S consecutive input sizes to the same output
size; ``output_padding`` in [0, max(S, D)) — or ``output_size`` — says which one
to produce.  Any other size is impossible and raises
`GeometryError`.
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import GeometryError
from cnnlab.reference.conv import conv2d, conv2d_grad_input, conv2d_grad_weight
from cnnlab.reference.grads import Grads
from cnnlab.reference.windows import (
    Padding,
    Pair,
    check_ndim,
    check_shape,
    pad,
    padding4,
    pair,
    transposed_output_size,
)
from cnnlab.reference.windows import output_size as conv_output_size


def conv_transpose2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    stride: Pair = 1,
    padding: Padding = 0,
    output_padding: Pair = 0,
    dilation: Pair = 1,
    groups: int = 1,
    output_size: tuple[int, int] | None = None,
    method: str = "im2col",
) -> np.ndarray:
    """y = A(w)ᵀ·x + b: (N, C_in, H, W) → (N, C_out, H_out, W_out).

    Parameters
    ----------
    x
        (N, C_in, H, W).
    w
        (C_in, C_out/groups, F_h, F_w).
    b
        (C_out,) or None.
    stride, dilation, groups
        those of the convolution being transposed.
    padding
        int, (ph, pw) or (top, bottom, left, right): rows cut from the output.
    output_padding
        int or pair in [0, max(S, D)): rows added after the last one.
    output_size
        (H_out, W_out) instead of ``output_padding``; a size that this
        geometry cannot produce raises `GeometryError`.
    method
        "im2col" or "direct", passed to the correlation that computes it.
    """
    x = np.asarray(x, dtype=np.float64)
    out_hw = _output_hw(x, w, stride, padding, output_padding, dilation, groups, output_size)
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    y = conv2d_grad_input(
        _fill(x, w, out_hw, stride, padding, dilation), w, out_hw, **geometry, method=method
    )
    return y if b is None else y + _bias(b, y.shape[1])[None, :, None, None]


def conv_transpose2d_backward(
    dy: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    *,
    stride: Pair = 1,
    padding: Padding = 0,
    output_padding: Pair = 0,
    dilation: Pair = 1,
    groups: int = 1,
    output_size: tuple[int, int] | None = None,
    method: str = "im2col",
) -> Grads:
    """∂E/∂x, ∂E/∂w and ∂E/∂b of `conv_transpose2d`, given δ = ∂E/∂y."""
    x, dy = np.asarray(x, dtype=np.float64), np.asarray(dy, dtype=np.float64)
    out_hw = _output_hw(x, w, stride, padding, output_padding, dilation, groups, output_size)
    check_shape("dy", dy, (x.shape[0], np.shape(w)[1] * groups, *out_hw))
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    filled = _fill(x, w, out_hw, stride, padding, dilation)
    dx = conv2d(dy, w, **geometry, floor=True, method=method)  # ∂E/∂x = A(w)·δ
    return Grads(
        input=dx[:, :, : x.shape[2], : x.shape[3]],  # the rows _fill added are not x's
        weight=conv2d_grad_weight(filled, dy, np.shape(w)[2:], **geometry, method=method),
        bias=dy.sum(axis=(0, 2, 3)),
    )


def _output_hw(
    x: np.ndarray,
    w: np.ndarray,
    stride: Pair,
    padding: Padding,
    output_padding: Pair,
    dilation: Pair,
    groups: int,
    output_size: tuple[int, int] | None,
) -> tuple[int, int]:
    """(H_out, W_out) from ``output_padding``, or ``output_size`` checked to be reachable."""
    check_ndim("x", x, 4, "(N, C_in, H, W)")
    check_ndim("w", w, 4, "(C_in, C_out/groups, F_h, F_w)")
    if x.shape[1] != np.shape(w)[0]:
        raise GeometryError(
            f"x has {x.shape[1]} channels, but the transposed convolution's w of shape "
            f"{np.shape(w)} takes {np.shape(w)[0]} (w is (C_in, C_out/groups, F_h, F_w))."
        )
    stride, pads, dilation = pair(stride, "stride"), padding4(padding), pair(dilation, "dilation")
    kernel = np.shape(w)[2:]
    sizes = []
    for axis, a in (("height", 0), ("width", 1)):
        n, s, (p0, p1) = x.shape[2 + a], stride[a], pads[2 * a : 2 * a + 2]
        f_eff = dilation[a] * (kernel[a] - 1) + 1
        if output_size is None:
            op = int(output_padding if np.ndim(output_padding) == 0 else output_padding[a])
        else:  # the output_padding that gives output_size, if one does
            smallest, choices = (n - 1) * s - p0 - p1 + f_eff, max(s, dilation[a])
            if not max(smallest, 1) <= output_size[a] < smallest + choices:
                raise GeometryError(
                    f"A transposed convolution cannot produce a {axis} of {output_size[a]} "
                    f"from {n}: ({n} − 1)·{s} − {p0} − {p1} + {f_eff} + output_padding gives "
                    f"{smallest} to {smallest + choices - 1} (output_padding in [0, {choices}))"
                    f"{', of which only sizes >= 1 exist' if smallest < 1 else ''}. Change the "
                    "stride, kernel or padding, or ask for one of those sizes."
                )
            op = int(output_size[a]) - smallest
        sizes.append(transposed_output_size(n, kernel[a], s, (p0, p1), dilation[a], op, axis=axis))
    return sizes[0], sizes[1]


def _fill(
    x: np.ndarray,
    w: np.ndarray,
    out_hw: tuple[int, int],
    stride: Pair,
    padding: Padding,
    dilation: Pair,
) -> np.ndarray:
    """``x`` with the zero rows that make it the convolution's output for an ``out_hw`` input.

    Only with output_padding >= S (possible when D > S) does the convolution of
    an ``out_hw`` input have more rows than ``x``; nothing flows from them.
    """
    stride, pads, dilation = pair(stride, "stride"), padding4(padding), pair(dilation, "dilation")
    extra = [
        conv_output_size(
            out_hw[a],
            np.shape(w)[2 + a],
            stride[a],
            pads[2 * a : 2 * a + 2],
            dilation[a],
            floor=True,
            axis=axis,
        )
        - x.shape[2 + a]
        for axis, a in (("height", 0), ("width", 1))
    ]
    return pad(x, (0, extra[0], 0, extra[1]))


def _bias(b: np.ndarray, channels: int) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64)
    check_shape("b", b, (channels,))
    return b
