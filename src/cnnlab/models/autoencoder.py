"""Undercomplete convolutional autoencoder (Goodfellow, Bengio & Courville 2016,
"Deep learning", Sec. 14.1; the convolutional form of Masci et al. 2011,
"Stacked convolutional auto-encoders for hierarchical feature extraction").

The encoder f is a stage of a stride-2 3x3 convolution + batch norm + ReLU per
width (each halves the image), then a linear map to a ``latent_dim`` code
h = f(x); the decoder g mirrors it: a linear map back to the last stage's maps,
then a x2 transposed convolution (kernel 4, stride 2, padding 1: exactly twice
the size, `TransposedConvUpsample`) + batch norm +
ReLU per stage, and a 3x3 convolution to ``num_classes`` output channels (the
image's channels, to reconstruct it).  A code much smaller than the image
(undercomplete) forces the network to keep what matters of the data
(Sec. 14.1); trained on noisy inputs with clean targets it is a denoising
autoencoder (Vincent et al. 2008).  The output is linear (not squashed into
[0, 1]); callers clamp it for display.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.errors import GeometryError
from cnnlab.models.registry import register_model
from cnnlab.nn.conv import ConvNormAct
from cnnlab.nn.upsample import TransposedConvUpsample


class ConvAutoencoder(nn.Module):
    """Encoder of stride-2 stages of ``widths`` channels to a ``latent_dim`` code, and its
    mirror as decoder (see the module docstring).

    ``encode(x)`` is the code h, ``decode(h)`` the reconstruction; ``features(x)``
    the decoder's last maps and ``head`` the convolution to the output channels.
    """

    def __init__(
        self,
        num_classes: int = 1,
        in_chans: int = 1,
        input_size: int = 28,
        widths: Sequence[int] = (32, 64),
        latent_dim: int = 16,
    ):
        super().__init__()
        widths = tuple(widths)
        factor = 2 ** len(widths)
        if input_size % factor:
            raise GeometryError(
                f"the autoencoder halves the image {len(widths)} times, so its side must be a "
                f"multiple of {factor}; got {input_size}. Give {len(widths) - 1} widths or fewer, "
                "or resize the images."
            )
        self.code_shape = (widths[-1], input_size // factor, input_size // factor)
        flat = widths[-1] * (input_size // factor) ** 2
        self.encoder = nn.Sequential(
            *(
                ConvNormAct(c_in, c_out, 3, stride=2, padding=1)
                for c_in, c_out in zip((in_chans, *widths[:-1]), widths, strict=True)
            ),
            nn.Flatten(),
            nn.Linear(flat, latent_dim),
        )
        self.expand = nn.Sequential(nn.Linear(latent_dim, flat), nn.ReLU(inplace=True))
        ups = []
        for wide, narrow in zip(widths[::-1], (*widths[-2::-1], widths[0]), strict=True):
            ups += [
                TransposedConvUpsample(wide, narrow, 2, bilinear=False),
                nn.BatchNorm2d(narrow),
                nn.ReLU(inplace=True),
            ]
        self.up = nn.Sequential(*ups)
        self.head = nn.Conv2d(widths[0], num_classes, 3, padding=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.head(self.up(self.expand(code).unflatten(1, self.code_shape)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.expand(self.encode(x)).unflatten(1, self.code_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register_model
def conv_autoencoder(
    num_classes: int = 1, in_chans: int = 1, input_size: int = 28, **options
) -> ConvAutoencoder:
    """Undercomplete conv autoencoder, widths 32-64 and a 16-number code (``latent_dim``).

    Goodfellow, Bengio & Courville (2016), "Deep learning", Sec. 14.1;
    ``num_classes`` is the number of output channels (``in_chans`` to reconstruct).
    """
    return ConvAutoencoder(num_classes, in_chans, input_size, **options)
