"""The U-Net of Noise2Void (Krull, Buchholz & Jug 2019, "Noise2Void — learning
denoising from single noisy images", CVPR, Sec. 3 "Implementation details").

The paper denoises with a U-Net (Ronneberger et al. 2015) of depth 2: three
stages of two 3x3 convolutions with batch normalization, 32 feature maps in the
first, doubled at each down-sampling, and a linear last layer (a 1x1
convolution to the image's channels) — `UNet` with
widths (32, 64, 128).  Depth 2 halves the image only twice, so any side that is
a multiple of 4 fits (Fashion-MNIST's 28).  One difference: the paper's
networks add the input to the output (a residual U-Net); here the input passes
through the run's `Normalize` first, so the network
predicts the restored pixels directly.
"""

from __future__ import annotations

from cnnlab.models.registry import register_model
from cnnlab.models.unet import UNet

N2V_WIDTHS = (32, 64, 128)  # depth 2, 32 first feature maps


@register_model
def unet_n2v(num_classes: int = 1, in_chans: int = 1, **options) -> UNet:
    """U-Net of depth 2 with 32-128 maps and batch norm: Noise2Void's denoiser.

    ``num_classes`` is the number of output channels (``in_chans`` to restore
    an image); ``widths`` replaces the paper's (32, 64, 128).  Krull, Buchholz
    & Jug (2019), "Noise2Void — learning denoising from single noisy images",
    Sec. 3.
    """
    options.setdefault("batch_norm", True)
    options.setdefault("widths", N2V_WIDTHS)
    return UNet(num_classes, in_chans, **options)
