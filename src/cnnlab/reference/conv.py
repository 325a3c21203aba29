"""Convolution forward and backward in NumPy, the way the CNN lecture derives them.

What a CNN calls convolution is a cross-correlation (the CNN lecture, "Splot i korelacja
wzajemna").  With the zero-padded input o (N, C, H, W), kernels w (K, C/G, F_h, F_w),
stride S, dilation D and G groups (output map k sees the input channels c of its
group), output pixel (i, j) of map k is:

    z[k, i, j] = Σ_c Σ_m Σ_n w[k, c, m, n] · o[c, i·S + m·D, j·S + n·D] + b[k]

(the lecture's z_ij = Σ_m Σ_n w_mn o_{i+m, j+n} + b, per image of the batch, with
stride and dilation written in).  Given the output error δ[k, i, j] = ∂E/∂z[k, i, j],
the chain rule gives the three gradients of the lecture's slides "Wsteczna
propagacja błędu w sieciach CNN" (after jefkine 2016, "Backpropagation in
convolutional neural networks"):

    ∂E/∂b[k]          = Σ_i Σ_j δ[k, i, j]
    ∂E/∂w[k, c, m, n] = Σ_i Σ_j δ[k, i, j] · o[c, i·S + m·D, j·S + n·D]
    ∂E/∂o[c, p, q]    = Σ_k Σ_m Σ_n δ[k, (p − m·D)/S, (q − n·D)/S] · w[k, c, m, n]

(terms with a non-integer or out-of-range index are zero).  Each is again a
correlation: the weight gradient correlates the input with δ (stride and dilation
trade places), and the input gradient is the *full* correlation of δ, with S − 1
zeros between its entries, with the kernel flipped by 180°.  The backward pass
below calls the forward correlation to compute both, which is why one correct
correlation is all a convolution layer needs.

Two forward methods compute the same sum: ``"direct"`` loops over output
pixels as the equation reads; ``"im2col"`` unrolls every receptive field into a
column and does one matrix product per group (Chellapilla, Puri & Simard 2006,
"High performance convolutional neural networks for document processing").
Everything is computed in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnnlab.errors import GeometryError, check_choice
from cnnlab.reference.grads import Grads
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


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    stride: Pair = 1,
    padding: Padding = 0,
    dilation: Pair = 1,
    groups: int = 1,
    floor: bool = False,
    method: str = "im2col",
) -> np.ndarray:
    """z = w ⋆ o + b: a convolution layer's forward pass, (N, C, H, W) → (N, K, H_out, W_out).

    Parameters
    ----------
    x
        (N, C, H, W) input.
    w
        (K, C/groups, F_h, F_w) kernels.
    b
        (K,) or None.
    stride, dilation
        int or (height, width).
    padding
        zeros around the input: int, (ph, pw) or (top, bottom, left, right).
    groups
        G; map k sees input channels [g·C/G, (g+1)·C/G) of its group g = k // (K/G).
    floor
        allow a kernel that does not tile the padded input (PyTorch's
        semantics: the last rows are never seen); by default that is a
        `GeometryError` with the numbers.
    method
        "im2col" (one matrix product per group) or "direct" (loops).

    Returns
    -------
    (N, K, H_out, W_out) with H_out = (H + P_top + P_bottom − F_eff)/S + 1.
    """
    x, w = _as_float(x), _as_float(w)
    stride, pads, dilation = _geometry(stride, padding, dilation)
    _check_layer(x, w, b, groups)
    _output_hw(x.shape[2:], w.shape[2:], stride, pads, dilation, floor=floor)
    z = _correlate(pad(x, pads), w, stride, dilation, groups, method)
    return z if b is None else z + _as_float(b)[None, :, None, None]


def conv2d_backward(
    dy: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    *,
    stride: Pair = 1,
    padding: Padding = 0,
    dilation: Pair = 1,
    groups: int = 1,
    floor: bool = False,
    method: str = "im2col",
) -> Grads:
    """∂E/∂x, ∂E/∂w and ∂E/∂b of `conv2d`, given δ = ∂E/∂z (its output's shape).

    The arguments after ``w`` are those of the forward pass.
    """
    x, w, dy = _as_float(x), _as_float(w), _as_float(dy)
    stride, pads, dilation = _geometry(stride, padding, dilation)
    _check_layer(x, w, None, groups)
    _output_hw(x.shape[2:], w.shape[2:], stride, pads, dilation, floor=floor)
    geometry = {"stride": stride, "padding": pads, "dilation": dilation, "groups": groups}
    return Grads(
        input=conv2d_grad_input(dy, w, x.shape[2:], **geometry, method=method),
        weight=conv2d_grad_weight(dy, x, w.shape[2:], **geometry, method=method),
        bias=dy.sum(axis=(0, 2, 3)),
    )


def conv2d_grad_input(
    dy: np.ndarray,
    w: np.ndarray,
    input_size: tuple[int, int],
    *,
    stride: Pair = 1,
    padding: Padding = 0,
    dilation: Pair = 1,
    groups: int = 1,
    method: str = "im2col",
) -> np.ndarray:
    """∂E/∂o[c, p, q] = Σ_k Σ_m Σ_n δ[k, (p − m·D)/S, (q − n·D)/S] · w[k, c, m, n].

    The full correlation of δ, with S − 1 zeros inserted between its entries,
    with the kernel flipped by 180° and its input and output channels swapped
    (the CNN lecture: "Kernel Flipped 180°").  ``input_size`` is the (H, W) of the
    forward input; the padding's rows are cut from the result.  This is also
    the forward pass of a transposed convolution (`.transposed`).
    """
    dy, w = _as_float(dy), _as_float(w)
    stride, pads, dilation = _geometry(stride, padding, dilation)
    check_ndim("dy", dy, 4, "(N, K, H_out, W_out)")
    _check_weight(w, groups)
    (h, wd), (fh, fw) = input_size, w.shape[2:]
    k, cg = w.shape[:2]
    out_hw = _output_hw((h, wd), (fh, fw), stride, pads, dilation, floor=True)
    check_shape("dy", dy, (dy.shape[0], k, *out_hw))
    # w[k, c] becomes w_flipped[c, k]: in the backward correlation every input
    # channel c is an output map, fed by the output maps k of its group.
    kg = k // groups
    flipped = w.reshape(groups, kg, cg, fh, fw).transpose(0, 2, 1, 3, 4)
    flipped = flipped.reshape(groups * cg, kg, fh, fw)[:, :, ::-1, ::-1]
    # "Full" correlation: pad the zero-stuffed δ by F_eff − 1 so that every
    # kernel tap meets every output pixel that used it.
    fh_eff, fw_eff = _effective((fh, fw), dilation)
    upsampled = pad(dilate(dy, stride), (fh_eff - 1, fh_eff - 1, fw_eff - 1, fw_eff - 1))
    full = _correlate(upsampled, flipped, (1, 1), dilation, groups, method)
    # full covers the (H_out − 1)·S + F_eff padded rows that some window reached;
    # the rows a floor left behind had no effect on z, so their gradient is 0.
    top, bottom, left, right = pads
    full = pad(full, (0, h + top + bottom - full.shape[2], 0, wd + left + right - full.shape[3]))
    return full[:, :, top : top + h, left : left + wd]


def conv2d_grad_weight(
    dy: np.ndarray,
    x: np.ndarray,
    kernel_size: tuple[int, int],
    *,
    stride: Pair = 1,
    padding: Padding = 0,
    dilation: Pair = 1,
    groups: int = 1,
    method: str = "im2col",
) -> np.ndarray:
    """∂E/∂w[k, c, m, n] = Σ_batch Σ_i Σ_j δ[k, i, j] · o[c, i·S + m·D, j·S + n·D].

    A correlation of the padded input o with δ as the kernel (the CNN lecture:
    ∂E/∂w_mn = Σ_i Σ_j δ_ij o_{i+m, j+n}), in which the forward pass's stride
    becomes the kernel's dilation and its dilation the stride.  The batch is
    summed over by making it the channel axis.  Returns (K, C/groups, F_h, F_w).
    """
    dy, x = _as_float(dy), _as_float(x)
    stride, pads, dilation = _geometry(stride, padding, dilation)
    check_ndim("dy", dy, 4, "(N, K, H_out, W_out)")
    check_ndim("x", x, 4, "(N, C, H, W)")
    n, c, k = x.shape[0], x.shape[1], dy.shape[1]
    if groups < 1 or c % groups or k % groups:
        raise GeometryError(
            f"groups={groups} must divide both the {c} input channels of x and the {k} "
            "channels of dy."
        )
    out_hw = _output_hw(x.shape[2:], kernel_size, stride, pads, dilation, floor=True)
    check_shape("dy", dy, (n, k, *out_hw))
    # Rows past the last window (left by a floor) never met the kernel.
    fh_eff, fw_eff = _effective(kernel_size, dilation)
    seen = pad(x, pads)[:, :, : (out_hw[0] - 1) * stride[0] + fh_eff]
    seen = seen[:, :, :, : (out_hw[1] - 1) * stride[1] + fw_eff]
    cg, kg = c // groups, k // groups
    per_group = []
    for g in range(groups):
        inputs = seen[:, g * cg : (g + 1) * cg].transpose(1, 0, 2, 3)  # (C/G, N, ...)
        errors = dy[:, g * kg : (g + 1) * kg].transpose(1, 0, 2, 3)  # (K/G, N, ...)
        grad = _correlate(inputs, errors, dilation, stride, 1, method)  # (C/G, K/G, F_h, F_w)
        per_group.append(grad.transpose(1, 0, 2, 3))
    return np.concatenate(per_group, axis=0)


def _correlate_direct(
    xp: np.ndarray, w: np.ndarray, stride: tuple[int, int], dilation: tuple[int, int], groups: int
) -> np.ndarray:
    """z[k, i, j] = Σ_c Σ_m Σ_n w[k, c, m, n] · o[c, i·S + m·D, j·S + n·D], pixel by pixel."""
    k, cg, fh, fw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    fh_eff, fw_eff = _effective((fh, fw), dilation)
    n, ho, wo = xp.shape[0], (xp.shape[2] - fh_eff) // sh + 1, (xp.shape[3] - fw_eff) // sw + 1
    z = np.zeros((n, k, ho, wo))
    for image in range(n):
        for out in range(k):
            g = out // (k // groups)
            channels = xp[image, g * cg : (g + 1) * cg]
            for i in range(ho):
                for j in range(wo):
                    field = channels[
                        :, i * sh : i * sh + fh_eff : dh, j * sw : j * sw + fw_eff : dw
                    ]
                    z[image, out, i, j] = np.sum(w[out] * field)
    return z


def _correlate_im2col(
    xp: np.ndarray, w: np.ndarray, stride: tuple[int, int], dilation: tuple[int, int], groups: int
) -> np.ndarray:
    """z = W_row · X_col per group: one column per output pixel, one row per (channel, tap)."""
    k, cg, fh, fw = w.shape
    fields = windows(xp, (fh, fw), stride, dilation)  # (N, C, H_out, W_out, F_h, F_w)
    n, _, ho, wo = fields.shape[:4]
    x_col = fields.reshape(n, groups, cg, ho, wo, fh, fw).transpose(0, 1, 2, 5, 6, 3, 4)
    x_col = x_col.reshape(n, groups, cg * fh * fw, ho * wo)
    w_row = w.reshape(groups, k // groups, cg * fh * fw)
    return (w_row @ x_col).reshape(n, k, ho, wo)


METHODS: dict[str, Callable[..., np.ndarray]] = {
    "im2col": _correlate_im2col,
    "direct": _correlate_direct,
}


def _correlate(
    xp: np.ndarray,
    w: np.ndarray,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    method: str,
) -> np.ndarray:
    return METHODS[check_choice("convolution method", method, METHODS)](
        xp, w, stride, dilation, groups
    )


def _as_float(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _geometry(
    stride: Pair, padding: Padding, dilation: Pair
) -> tuple[tuple[int, int], tuple[int, int, int, int], tuple[int, int]]:
    return pair(stride, "stride"), padding4(padding), pair(dilation, "dilation")


def _effective(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """F_eff = D·(F − 1) + 1 along each axis."""
    return dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1


def _output_hw(
    input_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: tuple[int, int, int, int],
    dilation: tuple[int, int],
    *,
    floor: bool,
) -> tuple[int, int]:
    return (
        output_size(
            input_hw[0], kernel[0], stride[0], pads[:2], dilation[0], floor=floor, axis="height"
        ),
        output_size(
            input_hw[1], kernel[1], stride[1], pads[2:], dilation[1], floor=floor, axis="width"
        ),
    )


def _check_weight(w: np.ndarray, groups: int) -> None:
    check_ndim("w", w, 4, "(K, C/groups, F_h, F_w)")
    if groups < 1 or w.shape[0] % groups:
        raise GeometryError(
            f"groups={groups} must be >= 1 and divide the {w.shape[0]} output channels of w "
            f"(shape {w.shape})."
        )


def _check_layer(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, groups: int) -> None:
    check_ndim("x", x, 4, "(N, C, H, W)")
    _check_weight(w, groups)
    if x.shape[1] != groups * w.shape[1]:
        raise GeometryError(
            f"x has {x.shape[1]} channels, but w of shape {w.shape} with groups={groups} "
            f"expects groups·C/groups = {groups}·{w.shape[1]} = {groups * w.shape[1]}."
        )
    if b is not None:
        check_shape("b", b, (w.shape[0],))
