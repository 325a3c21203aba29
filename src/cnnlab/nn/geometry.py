"""Layer geometry: output sizes, 'same' padding and receptive fields.

Pure functions on integers, one spatial dimension at a time.  The output size
of a convolution with input size W, kernel F, stride S, padding P and dilation
D is (CS231n, "Convolutional Neural Networks", and Dumoulin & Visin 2016,
"A guide to convolution arithmetic for deep learning", relationship 15):

    W_out = (W − F_eff + 2·P) / S + 1,    F_eff = D·(F − 1) + 1

A convolution whose kernel does not tile the padded input is an error here
(`GeometryError`, with the formula and the numbers);
PyTorch would silently drop the last rows and columns.  Pass ``floor=True``
for PyTorch's floor semantics.

Receptive fields follow the recurrence of Araujo, Norris & Sim (2019),
"Computing receptive fields of convolutional neural networks", Distill,
eqs. for a chain of layers l = 1..L:

    r_l = r_{l−1} + (k_l − 1)·d_l·j_{l−1}      (receptive field size)
    j_l = j_{l−1}·s_l                          (jump: input pixels per output step)
    c_l = c_{l−1} + ((k_l − 1)·d_l / 2 − p_l)·j_{l−1}   (centre of the first unit)

with r_0 = 1, j_0 = 1, c_0 = 0 (pixel indices of the input).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from cnnlab.errors import GeometryError


class LayerGeometry(NamedTuple):
    """Kernel, stride, dilation and padding of one layer along one dimension."""

    kernel: int
    stride: int = 1
    dilation: int = 1
    padding: int = 0


class ReceptiveField(NamedTuple):
    """Receptive field of a unit after a chain of layers (Araujo et al. 2019).

    ``size``: input pixels one unit sees; ``jump``: input pixels between two
    adjacent units; ``start``: input coordinate of the centre of the first
    unit's receptive field (negative when it lies in the padding).
    """

    size: int
    jump: int
    start: float


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """F_eff = D·(F − 1) + 1: the extent of a dilated kernel."""
    _check_positive(kernel=kernel, dilation=dilation)
    return dilation * (kernel - 1) + 1


def conv_output_size(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    *,
    floor: bool = False,
) -> int:
    """Output size (W − F_eff + 2P)/S + 1 of a convolution along one dimension.

    Raises `GeometryError` when the kernel does not tile the padded
    input (unless ``floor=True``, PyTorch's semantics) or when it is larger
    than the padded input.
    """
    _check_positive(n=n, stride=stride)
    if padding < 0:
        raise GeometryError(f"padding must be >= 0, got {padding}.")
    f_eff = effective_kernel(kernel, dilation)
    span = n - f_eff + 2 * padding
    if span < 0:
        raise GeometryError(
            f"The kernel ({_kernel_text(kernel, dilation)}) is larger than the padded input "
            f"({n} + 2·{padding} = {n + 2 * padding}). Use a smaller kernel, more padding "
            f"or an input of at least {f_eff - 2 * padding}."
        )
    if span % stride and not floor:
        raise GeometryError(
            f"({n} − {f_eff} + 2·{padding})/{stride} + 1 = {span / stride + 1:.2f} "
            f"is not an integer: the {_kernel_text(kernel, dilation)} kernel with stride "
            f"{stride} does not tile the input. {_advice(n, f_eff, stride, padding)}"
        )
    return span // stride + 1


def pool_output_size(
    n: int,
    kernel: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    *,
    ceil_mode: bool = False,
) -> int:
    """Output size of ``nn.MaxPool2d``/``nn.AvgPool2d`` along one dimension.

    PyTorch semantics: floor (or ceil with ``ceil_mode``) of
    (W − F_eff + 2P)/S + 1, where with ``ceil_mode`` the last window must start
    inside the input or the left padding.  ``stride`` defaults to ``kernel``.
    """
    stride = kernel if stride is None else stride
    f_eff = effective_kernel(kernel, dilation)
    if 2 * padding > kernel:
        raise GeometryError(
            f"Pooling padding must be at most half the kernel ({kernel}//2 = {kernel // 2}), "
            f"got {padding}."
        )
    out = conv_output_size(n, kernel, stride, padding, dilation, floor=True)
    if ceil_mode and (n - f_eff + 2 * padding) % stride:
        out += 1
        if (out - 1) * stride >= n + padding:
            out -= 1
    return out


def conv_transpose_output_size(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """(W − 1)·S − 2P + F_eff + output_padding: inverse of `conv_output_size`.

    Dumoulin & Visin (2016), relationship 14.  ``output_padding`` picks one of the
    S input sizes that a strided convolution maps to the same output size.
    """
    _check_positive(n=n, stride=stride)
    if not 0 <= output_padding < max(stride, dilation):
        raise GeometryError(
            f"output_padding must be in [0, max(stride, dilation)) = [0, {max(stride, dilation)}),"
            f" got {output_padding}."
        )
    out = (n - 1) * stride - 2 * padding + effective_kernel(kernel, dilation) + output_padding
    if out < 1:
        raise GeometryError(
            f"({n} − 1)·{stride} − 2·{padding} + {effective_kernel(kernel, dilation)} + "
            f"{output_padding} = {out}: the padding is too large for this input."
        )
    return out


def same_padding(kernel: int, dilation: int = 1) -> int:
    """Padding P = (F_eff − 1)/2 that keeps the size at stride 1 (odd F_eff only).

    An even effective kernel needs asymmetric padding, which a single integer
    cannot express: `GeometryError` says so.
    """
    f_eff = effective_kernel(kernel, dilation)
    if f_eff % 2 == 0:
        raise GeometryError(
            f"'same' padding for an even effective kernel ({_kernel_text(kernel, dilation)}, "
            f"F_eff = {f_eff}) is asymmetric: {(f_eff - 1) // 2} before and {f_eff // 2} after. "
            "Use an odd kernel, pad explicitly with torch.nn.functional.pad, or PyTorch's "
            "padding='same' (stride 1 only)."
        )
    return (f_eff - 1) // 2


def receptive_field(layers: Iterable[Sequence[int]]) -> ReceptiveField:
    """Receptive field after a chain of layers (Araujo et al. 2019, Distill).

    ``layers``: (kernel, stride[, dilation[, padding]]) per layer, input first;
    padding only moves ``start``.  Three 3x3 stride-1 convolutions see 7x7.
    """
    size, jump, start = 1, 1, 0.0
    for layer in layers:
        k, s, d, p = LayerGeometry(*layer)
        _check_positive(kernel=k, stride=s, dilation=d)
        start += ((k - 1) * d / 2 - p) * jump
        size += (k - 1) * d * jump
        jump *= s
    return ReceptiveField(size, jump, start)


def unseen_inputs(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Input pixels at the end of a dimension that no window covers under floor semantics.

    The padded input has n + 2P pixels; floor((n − F_eff + 2P)/S) + 1 windows
    cover the first (W_out − 1)·S + F_eff of them.  What is left beyond the right
    padding are real pixels that PyTorch silently drops.
    """
    out = conv_output_size(n, kernel, stride, padding, dilation, floor=True)
    covered = (out - 1) * stride + effective_kernel(kernel, dilation)
    return max(0, n + padding - covered)


def tiling_note(
    n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> str | None:
    """Why a layer drops input pixels under PyTorch's floor semantics, or None if it does not.

    The formula with the numbers, the size PyTorch rounds to, how many input
    pixels are lost, and which padding, stride or input size would fit.  A
    window that only overhangs the padding drops no pixel and gives no note
    (a 3x3 stride-2 convolution with padding 1 on an even input).
    """
    lost = unseen_inputs(n, kernel, stride, padding, dilation)
    if not lost:
        return None
    f_eff = effective_kernel(kernel, dilation)
    exact = (n - f_eff + 2 * padding) / stride + 1
    return (
        f"({n} − {f_eff} + 2·{padding})/{stride} + 1 = {exact:.2f} is not an integer: "
        f"PyTorch rounds down to {int(exact)} and the last {lost} input "
        f"{'pixel is' if lost == 1 else 'pixels are'} never seen. "
        f"{_advice(n, f_eff, stride, padding)}"
    )


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise GeometryError(f"{name} must be >= 1, got {value}.")


def _kernel_text(kernel: int, dilation: int) -> str:
    return f"{kernel}x{kernel}" + (f" dilated by {dilation}" if dilation > 1 else "")


def _advice(n: int, f_eff: int, stride: int, padding: int) -> str:
    """Which padding, stride or input size would make the kernel tile the input."""
    fits = [p for p in range(f_eff) if (n - f_eff + 2 * p) % stride == 0]
    if fits:
        p = min(fits, key=lambda q: (abs(q - padding), q))
        pad_text = f"padding={p} gives {(n - f_eff + 2 * p) // stride + 1}"
    else:
        pad_text = (
            f"no padding fits stride {stride} (2·P is even, {n} − {f_eff} = {n - f_eff} is odd)"
        )
    span = n - f_eff + 2 * padding
    strides = [s for s in range(1, max(stride, f_eff) + 1) if span % s == 0]
    sizes = [m for m in (n - span % stride, n - span % stride + stride) if m >= f_eff - 2 * padding]
    return (
        f"Change the padding ({pad_text}), the stride ({' or '.join(map(str, strides))} "
        f"divides {span}), or the input size ({' or '.join(map(str, sizes))} fits)."
    )


# Transposed convolution for up-sampling.
#
# A transposed convolution with stride S scatters each input pixel's k x k
# kernel onto the output S pixels apart.  Where S does not divide k, output
# pixels of different phases (position mod S) receive different numbers of
# taps, and the network draws a checkerboard (Odena, Dumoulin & Olah 2016,
# "Deconvolution and checkerboard artifacts", Distill): choose k divisible by
# S, or resize (nearest/bilinear) followed by a stride-1 convolution.


def transposed_overlap(kernel: int, stride: int) -> list[int]:
    """Kernel taps that reach an output pixel of each phase 0..S−1 of a transposed conv.

    Equal counts (S divides k) give an even overlap; unequal counts are the
    checkerboard of Odena et al. (2016): kernel 3, stride 2 gives ``[2, 1]``.
    """
    _check_positive(kernel=kernel, stride=stride)
    return [len(range(phase, kernel, stride)) for phase in range(stride)]


def upsample_geometry(scale: int) -> LayerGeometry:
    """Kernel 2s − s mod 2, stride s, padding ⌈(s − 1)/2⌉: a transposed conv from H to s·H.

    The geometry of FCN's bilinear up-sampling layers (Long et al. 2015, the
    reference code's ``upsample_filt`` kernel size), cropped by padding so that
    `conv_transpose_output_size` is exactly s·H for every H.
    """
    _check_positive(scale=scale)
    return LayerGeometry(2 * scale - scale % 2, scale, 1, (scale - scale % 2) // 2)


def conv_transpose_output_padding(
    n: int, target: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """The ``output_padding`` that makes a transposed conv map size ``n`` to ``target``.

    (n − 1)·S − 2P + F_eff reaches ``target`` if ``output_padding`` in
    [0, max(S, D)) closes the gap; any other target is impossible, and
    `GeometryError` gives the sizes this layer can produce.
    """
    smallest = conv_transpose_output_size(n, kernel, stride, padding, 0, dilation)
    reachable = range(smallest, smallest + max(stride, dilation))
    if target not in reachable:
        raise GeometryError(
            f"A transposed convolution ({_kernel_text(kernel, dilation)}, stride {stride}, "
            f"padding {padding}) maps {n} to ({n} − 1)·{stride} − 2·{padding} + "
            f"{effective_kernel(kernel, dilation)} + output_padding, i.e. "
            f"{reachable.start}..{reachable.stop - 1}, never {target}. Change the stride, "
            "kernel or padding, or crop/pad the result."
        )
    return target - smallest


__all__ = [
    "LayerGeometry",
    "ReceptiveField",
    "conv_output_size",
    "conv_transpose_output_padding",
    "conv_transpose_output_size",
    "effective_kernel",
    "pool_output_size",
    "receptive_field",
    "same_padding",
    "tiling_note",
    "transposed_overlap",
    "unseen_inputs",
    "upsample_geometry",
]
