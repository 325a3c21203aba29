"""Pooling and unpooling forward and backward in NumPy.

**Max pooling** (the CNN lecture, "Pooling") keeps the largest value of each window:

    y[i, j] = max_{m, n} o[i·S + m·D, j·S + n·D]

It is linear in the one input that won, so the backward pass routes the error
there and nowhere else.  The forward pass remembers that input — the *switch*
(Zeiler & Fergus 2014, "Visualizing and understanding convolutional networks",
Sec. 2.1) — as a flat index s[i, j] = row·W + column into the input map
(PyTorch's ``return_indices``).  Where windows overlap, one input can win
several of them and collects all their errors:

    ∂E/∂o[p] = Σ_{(i, j): s[i, j] = p} δ[i, j]

The padding holds −∞, so it never wins.

**Average pooling** replaces the max by the mean over the F_h·F_w taps (zeros of
the padding included, PyTorch's ``count_include_pad=True``).  That is a
convolution of each channel with a kernel of 1/(F_h·F_w) in every tap, and it is
computed as one, so its backward pass is that convolution's input gradient:
each input receives δ/(F_h·F_w) from every window it lies in.

**Unpooling** (the CNN lecture, "Unpooling i dekonwolucja"; Noh, Hong & Han 2015,
"Learning deconvolution network for semantic segmentation") enlarges a map:
*nearest neighbour* repeats each value over its S_h x S_w block, *bed of nails*
puts it in the block's top-left corner and zeros elsewhere, and *max unpooling*
puts each value back where the max pooling found it (its switch).  All three are
linear, and each backward pass is the transpose: sum over the block, take the
top-left corner, gather at the switches.
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import GeometryError
from cnnlab.reference.conv import conv2d, conv2d_grad_input
from cnnlab.reference.windows import (
    Padding,
    Pair,
    check_ndim,
    check_shape,
    dilate,
    output_size,
    pad,
    padding4,
    pair,
    windows,
)


def max_pool2d(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair | None = None,
    padding: Padding = 0,
    dilation: Pair = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(y, switches): the max of every window and the flat index of the input that won.

    ``x`` (N, C, H, W); ``stride`` defaults to ``kernel``; ``padding`` (int,
    (ph, pw) or (top, bottom, left, right)) is at most half the kernel on each
    side, and no window's (dilated) taps may all fall in it.  Output sizes are
    floored, as in PyTorch.  ``switches`` has y's shape and indexes the
    flattened H·W of x.
    """
    x = np.asarray(x, dtype=np.float64)
    check_ndim("x", x, 4, "(N, C, H, W)")
    kernel, stride, pads, dilation = _pool_geometry(x.shape[2:], kernel, stride, padding, dilation)
    fields = windows(pad(x, pads, value=-np.inf), kernel, stride, dilation)
    flat = fields.reshape(*fields.shape[:4], -1)  # (N, C, H_out, W_out, F_h·F_w)
    tap = flat.argmax(axis=-1)  # the first maximum, in row-major order, as PyTorch
    y = np.take_along_axis(flat, tap[..., None], axis=-1)[..., 0]
    # Window (i, j)'s tap (m, n) sits at row i·S_h + m·D_h − top of x, column likewise.
    ho, wo = y.shape[2:]
    rows = np.arange(ho)[:, None] * stride[0] + (tap // kernel[1]) * dilation[0] - pads[0]
    cols = np.arange(wo)[None, :] * stride[1] + (tap % kernel[1]) * dilation[1] - pads[2]
    if ((rows < 0) | (rows >= x.shape[2]) | (cols < 0) | (cols >= x.shape[3])).any():
        raise GeometryError(
            f"Some windows see only padding: the taps of the {kernel[0]}x{kernel[1]} kernel "
            f"dilated by {dilation[0]}x{dilation[1]} step over the {x.shape[2]}x{x.shape[3]} "
            f"input with padding {pads} (top, bottom, left, right). Use less padding or a "
            "smaller dilation."
        )
    return y, rows * x.shape[3] + cols


def max_pool2d_backward(
    dy: np.ndarray, switches: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """∂E/∂o[p] = Σ of δ[i, j] over the windows whose switch s[i, j] is p.

    ``switches`` as `max_pool2d` returned them; ``input_size`` the (H, W) of x.
    """
    dy = np.asarray(dy, dtype=np.float64)
    check_ndim("dy", dy, 4, "(N, C, H_out, W_out)")
    switches = _check_switches(switches, dy.shape, input_size)
    (n, c), (h, w) = dy.shape[:2], input_size
    # Number the N·C maps' pixels one after another, then add up every error sent to each.
    maps = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)
    dx = np.bincount((switches + maps).ravel(), weights=dy.ravel(), minlength=n * c * h * w)
    return dx.reshape(n, c, h, w)


def avg_pool2d(
    x: np.ndarray, kernel: Pair, stride: Pair | None = None, padding: Padding = 0
) -> np.ndarray:
    """The mean of every F_h x F_w window (padding zeros counted): a convolution by 1/(F_h·F_w)."""
    x = np.asarray(x, dtype=np.float64)
    check_ndim("x", x, 4, "(N, C, H, W)")
    kernel, stride, pads, _ = _pool_geometry(x.shape[2:], kernel, stride, padding, 1)
    n, c, h, w = x.shape
    # Each channel on its own: the channels become images of a batch of N·C.
    y = conv2d(
        x.reshape(n * c, 1, h, w), _mean_kernel(kernel), stride=stride, padding=pads, floor=True
    )
    return y.reshape(n, c, *y.shape[2:])


def avg_pool2d_backward(
    dy: np.ndarray,
    input_size: tuple[int, int],
    kernel: Pair,
    stride: Pair | None = None,
    padding: Padding = 0,
) -> np.ndarray:
    """∂E/∂o: the input gradient of the mean-kernel convolution, δ/(F_h·F_w) per window."""
    dy = np.asarray(dy, dtype=np.float64)
    check_ndim("dy", dy, 4, "(N, C, H_out, W_out)")
    n, c = dy.shape[:2]
    kernel, stride, pads, _ = _pool_geometry(input_size, kernel, stride, padding, 1)
    dx = conv2d_grad_input(
        dy.reshape(n * c, 1, *dy.shape[2:]),
        _mean_kernel(kernel),
        input_size,
        stride=stride,
        padding=pads,
    )
    return dx.reshape(n, c, *input_size)


def unpool_nearest(x: np.ndarray, scale: Pair) -> np.ndarray:
    """Repeat every value over an S_h x S_w block: (N, C, H, W) → (N, C, S_h·H, S_w·W)."""
    x = np.asarray(x, dtype=np.float64)
    check_ndim("x", x, 4, "(N, C, H, W)")
    sh, sw = pair(scale, "scale")
    return x.repeat(sh, axis=2).repeat(sw, axis=3)


def unpool_nearest_backward(dy: np.ndarray, scale: Pair) -> np.ndarray:
    """∂E/∂x[i, j] = the sum of δ over block (i, j): every copy passes its error back."""
    dy = np.asarray(dy, dtype=np.float64)
    n, c, h, w = _check_blocks(dy, scale)
    sh, sw = pair(scale, "scale")
    return dy.reshape(n, c, h, sh, w, sw).sum(axis=(3, 5))


def unpool_bed_of_nails(x: np.ndarray, scale: Pair) -> np.ndarray:
    """Each value in the top-left corner of its S_h x S_w block, zeros elsewhere."""
    x = np.asarray(x, dtype=np.float64)
    check_ndim("x", x, 4, "(N, C, H, W)")
    sh, sw = pair(scale, "scale")
    return pad(dilate(x, (sh, sw)), (0, sh - 1, 0, sw - 1))


def unpool_bed_of_nails_backward(dy: np.ndarray, scale: Pair) -> np.ndarray:
    """∂E/∂x[i, j] = δ at the corner of block (i, j); the zeros had no input."""
    dy = np.asarray(dy, dtype=np.float64)
    _check_blocks(dy, scale)
    sh, sw = pair(scale, "scale")
    return dy[:, :, ::sh, ::sw]


def max_unpool2d(y: np.ndarray, switches: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Each pooled value back at its switch, zeros elsewhere: (N, C, H_out, W_out) → (N, C, H, W).

    ``output_size`` is the (H, W) of the map that `max_pool2d` pooled.
    Windows that shared a switch put the same maximum at the same place.
    """
    y = np.asarray(y, dtype=np.float64)
    check_ndim("y", y, 4, "(N, C, H_out, W_out)")
    switches = _check_switches(switches, y.shape, output_size)
    n, c = y.shape[:2]
    out = np.zeros((n, c, output_size[0] * output_size[1]))
    np.put_along_axis(out, switches.reshape(n, c, -1), y.reshape(n, c, -1), axis=2)
    return out.reshape(n, c, *output_size)


def max_unpool2d_backward(dy: np.ndarray, switches: np.ndarray) -> np.ndarray:
    """∂E/∂y[i, j] = δ at switch s[i, j] (for shared switches, each gets it, as in PyTorch)."""
    dy = np.asarray(dy, dtype=np.float64)
    check_ndim("dy", dy, 4, "(N, C, H, W)")
    n, c = dy.shape[:2]
    check_ndim("switches", switches, 4, "(N, C, H_out, W_out)")
    switches = _check_switches(switches, (n, c, *np.shape(switches)[2:]), dy.shape[2:])
    flat = np.take_along_axis(dy.reshape(n, c, -1), switches.reshape(n, c, -1), axis=2)
    return flat.reshape(switches.shape)


def _pool_geometry(
    size: tuple[int, int], kernel: Pair, stride: Pair | None, padding: Padding, dilation: Pair
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int], tuple[int, int]]:
    """Normalized (kernel, stride, padding, dilation); checks padding and output size."""
    kernel = pair(kernel, "kernel")
    stride = kernel if stride is None else pair(stride, "stride")
    pads, dilation = padding4(padding), pair(dilation, "dilation")
    for a, axis in enumerate(("height", "width")):
        k, sides = kernel[a], pads[2 * a : 2 * a + 2]
        if max(sides) > k // 2:
            raise GeometryError(
                f"Pooling padding must be at most half the kernel on each side ({axis}: "
                f"{k}//2 = {k // 2}), got {sides[0]} before and {sides[1]} after: a window "
                "of padding alone would have nothing to pool."
            )
        output_size(size[a], k, stride[a], sides, dilation[a], floor=True, axis=axis)
    return kernel, stride, pads, dilation


def _mean_kernel(kernel: tuple[int, int]) -> np.ndarray:
    return np.full((1, 1, *kernel), 1.0 / (kernel[0] * kernel[1]))


def _check_blocks(dy: np.ndarray, scale: Pair) -> tuple[int, int, int, int]:
    """(N, C, H, W) of the map that was unpooled into ``dy``."""
    check_ndim("dy", dy, 4, "(N, C, S_h·H, S_w·W)")
    sh, sw = pair(scale, "scale")
    n, c, h, w = dy.shape
    if h % sh or w % sw:
        raise GeometryError(
            f"dy of size {h}x{w} is not made of {sh}x{sw} blocks: unpooling by {sh}x{sw} "
            f"gives multiples of the scale, e.g. {h - h % sh or sh}x{w - w % sw or sw}."
        )
    return n, c, h // sh, w // sw


def _check_switches(
    switches: np.ndarray, shape: tuple[int, ...], input_size: tuple[int, int]
) -> np.ndarray:
    """``switches`` of ``shape``, each a flat index into an ``input_size`` map."""
    switches = np.asarray(switches)
    check_shape("switches", switches, shape)
    size = input_size[0] * input_size[1]
    if switches.size and not 0 <= switches.min() <= switches.max() < size:
        raise GeometryError(
            f"switches must index a {input_size[0]}x{input_size[1]} map (0 to {size - 1}), "
            f"got {switches.min()} to {switches.max()}: pass the input size of the max pooling."
        )
    return switches
