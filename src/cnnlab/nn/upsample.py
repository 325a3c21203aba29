"""Up-sampling blocks of fully convolutional networks.

The CNN lecture ("Unpooling i dekonwolucja") enlarges a feature map in four ways:

* `NearestUnpool` — *nearest neighbour* unpooling repeats each value over
  its s x s block.
* `BedOfNailsUnpool` — *bed of nails* puts each value in the top-left
  corner of its block and zeros elsewhere.
* `MaxUnpool` — *max unpooling* puts each value back where the paired max
  pooling found its maximum (the pooling's remembered *switches*, Zeiler &
  Fergus 2014, Sec. 2.1; Noh, Hong & Han 2015, "Learning deconvolution network
  for semantic segmentation", Sec. 3.2; SegNet, Badrinarayanan et al. 2017).
* `BilinearUpsample` — fixed bilinear interpolation.

and by a learnable *transposed convolution* (`TransposedConvUpsample`,
Long, Shelhamer & Darrell 2015, "Fully convolutional networks for semantic
segmentation", Sec. 3.3: "upsampling is backwards strided convolution"),
initialized as bilinear interpolation as the paper does.  Its geometry is
`cnnlab.nn.geometry.upsample_geometry`; why a kernel that the stride does
not divide draws a checkerboard is `cnnlab.nn.geometry.transposed_overlap`.

The NumPy forward and backward passes of the three unpoolings are in
`cnnlab.reference.pool`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.nn.geometry import upsample_geometry


def _check_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ConfigError(f"The up-sampling factor must be an integer >= 1, got {scale!r}.")
    return scale


class NearestUnpool(nn.Module):
    """Nearest-neighbour unpooling: y[i, j] = x[⌊i/s⌋, ⌊j/s⌋] (each value fills its block)."""

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = _check_scale(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.scale, -2).repeat_interleave(self.scale, -1)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class BedOfNailsUnpool(nn.Module):
    """ "Bed of nails" unpooling: y[s·i, s·j] = x[i, j] and zero everywhere else."""

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = _check_scale(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale
        out = x.new_zeros(*x.shape[:-2], x.shape[-2] * s, x.shape[-1] * s)
        out[..., ::s, ::s] = x
        return out

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class MaxUnpool(nn.Module):
    """Max unpooling with the switches of a ``nn.MaxPool2d(..., return_indices=True)``.

    ``forward(x, indices, output_size)`` writes each value of ``x`` at the input
    position its pooling window took the maximum from (``indices``: flat
    row·W + column positions in the pooled map) and zeros elsewhere, so
    ``MaxUnpool()(*pool(a), a.shape)`` keeps exactly the maxima of ``a`` in place.
    """

    def forward(
        self, x: torch.Tensor, indices: torch.Tensor, output_size: torch.Size | tuple[int, ...]
    ) -> torch.Tensor:
        if indices.shape != x.shape:
            raise GeometryError(
                f"max unpooling needs one switch per value: the values are {tuple(x.shape)} "
                f"but the switches {tuple(indices.shape)}. Pass the indices returned by the "
                "max pooling that produced this map's size."
            )
        height, width = output_size[-2:]
        # The range check reads the switches' values, which a traced graph (torch.export,
        # ONNX) cannot branch on; a model's own pooling gives switches in range.
        checked = x.numel() and not x.is_meta and not torch.compiler.is_exporting()
        if checked and int(indices.max()) >= height * width:
            raise GeometryError(
                f"a switch points at position {int(indices.max())}, outside the "
                f"{height}x{width} output; give the size of the map that was pooled."
            )
        out = x.new_zeros(*x.shape[:-2], height * width)
        out.scatter_(-1, indices.flatten(-2), x.flatten(-2))
        return out.view(*x.shape[:-2], height, width)


class BilinearUpsample(nn.Module):
    """Bilinear interpolation by an integer factor (``align_corners=False``: pixel centres)."""

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = _check_scale(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def bilinear_kernel(kernel: int) -> torch.Tensor:
    """The k x k bilinear interpolation filter (the FCN reference code's ``upsample_filt``).

    w[i, j] = (1 − |i − c|/f)·(1 − |j − c|/f), f = ⌈k/2⌉, c = f − 1 for odd k and
    f − 1/2 for even k; with stride f a transposed convolution by it interpolates
    bilinearly (Long et al. 2015, Sec. 3.3).
    """
    factor = (kernel + 1) // 2
    centre = factor - 1 if kernel % 2 else factor - 0.5
    ramp = 1 - (torch.arange(kernel, dtype=torch.float64) - centre).abs() / factor
    return torch.outer(ramp, ramp).float()


class TransposedConvUpsample(nn.ConvTranspose2d):
    """A learnable x``scale`` up-sampling: a transposed convolution started as bilinear.

    Kernel 2s − s mod 2, stride s, padding ⌈(s − 1)/2⌉: exactly s·H x s·W out
    (`upsample_geometry`); for even s the stride
    divides the kernel, so every output pixel gets the same number of taps (no
    checkerboard from uneven overlap, Odena, Dumoulin & Olah 2016; see
    `transposed_overlap`).  ``bilinear=True`` sets channel c's filter to
    `bilinear_kernel` for output c and zero for the others, as FCN does
    (Long et al. 2015, Sec. 3.3; it needs ``in_ch == out_ch``); ``bilinear=False``
    keeps PyTorch's random initialization.
    """

    def __init__(
        self, in_ch: int, out_ch: int, scale: int = 2, *, bilinear: bool = True, bias: bool = False
    ):
        geometry = upsample_geometry(_check_scale(scale))
        super().__init__(
            in_ch,
            out_ch,
            geometry.kernel,
            geometry.stride,
            geometry.padding,
            bias=bias,
        )
        self.scale = scale
        if bilinear:
            if in_ch != out_ch:
                raise ConfigError(
                    f"bilinear initialization maps each channel to itself, so it needs as many "
                    f"output as input channels (got {in_ch} -> {out_ch}); use bilinear=False."
                )
            with torch.no_grad():
                self.weight.zero_()
                filt = bilinear_kernel(geometry.kernel)
                for channel in range(in_ch):
                    self.weight[channel, channel] = filt
                if self.bias is not None:
                    self.bias.zero_()


__all__ = [
    "BedOfNailsUnpool",
    "BilinearUpsample",
    "MaxUnpool",
    "NearestUnpool",
    "TransposedConvUpsample",
    "bilinear_kernel",
]
