"""PSNR and SSIM against scikit-image's peak_signal_noise_ratio and structural_similarity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cnnlab.errors import ConfigError
from cnnlab.metrics.restoration import format_restoration_report, psnr, ssim


def pair(shape, seed=0, sigma=0.1):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(shape, generator=g, dtype=torch.float64)
    return clean, clean + sigma * torch.randn(shape, generator=g, dtype=torch.float64)


def skimage_ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    return structural_similarity(
        x,
        y,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=0,
    )


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 32, 45), (1, 2, 11, 17)])
@pytest.mark.parametrize("data_range", [1.0, 2.0])
def test_ssim_equals_scikit_image(shape, data_range):
    clean, noisy = pair(shape, seed=shape[-1])
    expected = [
        skimage_ssim(a.numpy(), b.numpy(), data_range) for a, b in zip(clean, noisy, strict=True)
    ]
    assert ssim(clean, noisy, data_range).numpy() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (2, 3, 32, 32)])
def test_psnr_equals_scikit_image(shape):
    clean, noisy = pair(shape)
    expected = [
        peak_signal_noise_ratio(a.numpy(), b.numpy(), data_range=1)
        for a, b in zip(clean, noisy, strict=True)
    ]
    assert psnr(clean, noisy).numpy() == pytest.approx(expected, abs=1e-10)


def test_float32_images_agree_with_float64_scikit_image():
    clean, noisy = pair((2, 1, 28, 28))
    clean, noisy = clean.float(), noisy.float()
    expected = [
        skimage_ssim(a.double().numpy(), b.double().numpy(), 1)
        for a, b in zip(clean, noisy, strict=True)
    ]
    assert ssim(clean, noisy).numpy() == pytest.approx(expected, abs=1e-9)


def test_psnr_of_gaussian_noise_is_minus_twenty_log_sigma():
    clean, noisy = pair((1, 1, 256, 256), sigma=0.2)
    assert psnr(clean, noisy).item() == pytest.approx(-20 * math.log10(0.2), abs=0.05)


def test_identical_images_have_ssim_one_and_infinite_psnr():
    clean, _ = pair((2, 1, 16, 16))
    assert ssim(clean, clean).numpy() == pytest.approx([1.0, 1.0])
    assert torch.isinf(psnr(clean, clean)).all()


def test_images_smaller_than_the_window_and_mismatched_shapes_are_refused():
    small, _ = pair((1, 1, 10, 20))
    with pytest.raises(ConfigError, match="at least 11x11"):
        ssim(small, small)
    a, b = pair((1, 1, 16, 16))
    with pytest.raises(ConfigError, match="same shape"):
        psnr(a, b[..., :15])


def test_the_report_prints_input_restored_and_gain():
    text = format_restoration_report(
        {
            "task": "denoise",
            "num_images": 5,
            "noise": "gaussian:0.2",
            "psnr": 24.0,
            "ssim": 0.8,
            "psnr_input": 14.0,
            "ssim_input": 0.4,
        }
    )
    assert "noisy input: PSNR 14.00 dB" in text and "+10.00 dB" in text
