"""scikit-learn's handwritten digits, shaped like MNIST padded for LeNet-5.

``sklearn.datasets.load_digits`` ships 1797 8x8 images with values 0..16 (UCI
"Optical Recognition of Handwritten Digits", 32x32 bitmaps counted in 4x4
blocks).  They are scaled to 0..255, resized to 28x28 (bilinear) and zero-padded
by 2 pixels on each side to 1x32x32, the input size of LeNet-5 (LeCun et al.,
1998), which also pads MNIST's 28x28 digits to 32x32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits as _sklearn_digits

from cnnlab.data.datasets import TensorImageDataset


def load_digits() -> TensorImageDataset:
    """All 1797 digits as uint8 ``(1797, 1, 32, 32)``, classes ``"0"`` .. ``"9"``."""
    bunch = _sklearn_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1) * (255 / 16)
    images = F.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
    images = F.pad(images, (2, 2, 2, 2))
    images = images.round().clamp(0, 255).to(torch.uint8)
    labels = torch.from_numpy(bunch.target).to(torch.int64)
    return TensorImageDataset(images, labels, [str(d) for d in range(10)])
