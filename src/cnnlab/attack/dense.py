"""Attacks on dense prediction: segmentation maps and restored images.

The same projected gradient ascent as `cnnlab.attack.gradient.PGD`
(Madry et al. 2018, eq. 2; FGSM, Goodfellow et al. 2015, as one step of size ε
from the image), with the per-image loss of the task in place of the
classifier's cross-entropy:

* segmentation: the mean over pixels of the per-pixel cross-entropy against the
  true mask, as in the dense adversary of Xie et al. (2017, "Adversarial
  examples for semantic segmentation and object detection", ICCV) and the
  segmentation robustness study of Arnab, Miksik & Torr (2018, CVPR); the
  damage is the drop in mean IoU (`attack_segmentation`);
* reconstruction (autoencoders, denoising, Noise2Void): the mean squared error
  between the model's output and the clean image; the damage is the drop in
  PSNR of the restored image (`attack_reconstruction`).

Both are untargeted, in pixel space [0, 1], inside an L∞ or L2 ball.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.attack.base import frozen, per_sample_norm
from cnnlab.attack.gradient import PGD
from cnnlab.errors import DataError, check_choice
from cnnlab.metrics.restoration import psnr, ssim
from cnnlab.metrics.segmentation import pixel_confusion_matrix, segmentation_report

DENSE_LOSSES = ("pixel-ce", "mse")


def pixel_cross_entropy(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of each image's cross-entropy: (N, K, H, W) scores, (N, H, W) classes."""
    return F.cross_entropy(logits, masks, reduction="none").flatten(1).mean(1)


def reconstruction_error(output: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each output image against the clean image: shape (N,)."""
    return (output - clean).square().flatten(1).mean(1)


class DensePGD(PGD):
    """Untargeted PGD (or FGSM: ``steps=1, alpha=eps, random_start=False``) on a dense loss.

    ``loss`` is ``'pixel-ce'`` (targets: (N, H, W) class masks) or ``'mse'``
    (targets: the clean images the output should equal).  ``box=False`` keeps
    the adversarial input in the ε-ball only, not in [0, 1]: for noisy inputs,
    which Gaussian noise takes out of [0, 1].  The other parameters are
    `cnnlab.attack.gradient.PGD`'s.
    """

    def __init__(
        self,
        eps: float = 8 / 255,
        *,
        loss: str = "pixel-ce",
        steps: int = 10,
        alpha: float | None = None,
        norm: str = "linf",
        random_start: bool = True,
        box: bool = True,
        seed: int | torch.Generator = 0,
    ):
        super().__init__(
            eps, steps=steps, alpha=alpha, norm=norm, random_start=random_start, seed=seed
        )
        self.objective = check_choice("dense attack loss", loss, DENSE_LOSSES)
        self.box = box

    @classmethod
    def fgsm(
        cls, eps: float = 8 / 255, *, loss: str = "pixel-ce", norm: str = "linf", box: bool = True
    ) -> DensePGD:
        """One step of size ε from the image (Goodfellow et al. 2015)."""
        return cls(eps, loss=loss, steps=1, alpha=eps, norm=norm, random_start=False, box=box)

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] with ``box=True``; unchanged without (noisy inputs leave [0, 1])."""
        return x.clamp(0, 1) if self.box else x

    def loss(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.objective == "pixel-ce":
            return pixel_cross_entropy(output, targets)
        return reconstruction_error(output, targets)

    def __call__(
        self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        if images.ndim != 4 or not images.is_floating_point() or len(targets) != len(images):
            raise DataError(
                f"A dense attack takes float images (N, C, H, W) and one target per image; got "
                f"images {tuple(images.shape)} {images.dtype} and {len(targets)} targets."
            )
        if self.box and images.numel() and (images.min() < 0 or images.max() > 1):
            raise DataError(
                "images must be in [0, 1]: attacks work in pixel space (box=False attacks "
                "inputs outside it, such as images with Gaussian noise)."
            )
        with frozen(model):
            return self._run(model, images.detach(), targets).detach()


def _batches(total: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, total)) for i in range(0, total, size)]


def _perturbation(images: torch.Tensor, adversarial: torch.Tensor) -> dict[str, float]:
    delta = adversarial - images
    return {
        "mean_linf": per_sample_norm(delta, "linf").mean().item(),
        "mean_l2": per_sample_norm(delta, "l2").mean().item(),
    }


def attack_segmentation(
    model: nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    attack: DensePGD,
    class_names: list[str],
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Attack ``images`` of a segmentation model: (adversarial, clean and adversarial
    predicted masks, metrics).

    Metrics: ``num_images``, ``miou_clean``, ``miou_adversarial``,
    ``pixel_accuracy_clean``, ``pixel_accuracy_adversarial`` (the pixel
    confusion matrices over all images, `cnnlab.metrics.segmentation`),
    ``mean_linf``, ``mean_l2`` and ``seconds``.
    """
    start = time.perf_counter()
    adversarial, clean_pred, adv_pred = [], [], []
    for part in _batches(len(images), batch_size):
        x_adv = attack(model, images[part], masks[part])
        with torch.no_grad(), frozen(model):
            clean_pred.append(model(images[part]).argmax(1))
            adv_pred.append(model(x_adv).argmax(1))
        adversarial.append(x_adv)
    adversarial_images = torch.cat(adversarial)
    clean, adv = torch.cat(clean_pred), torch.cat(adv_pred)
    k = len(class_names)
    before = segmentation_report(pixel_confusion_matrix(masks, clean, k).cpu(), class_names)
    after = segmentation_report(pixel_confusion_matrix(masks, adv, k).cpu(), class_names)
    metrics = {
        "num_images": len(images),
        "miou_clean": before["miou"],
        "miou_adversarial": after["miou"],
        "pixel_accuracy_clean": before["accuracy"],
        "pixel_accuracy_adversarial": after["accuracy"],
        **_perturbation(images, adversarial_images),
        "seconds": time.perf_counter() - start,
    }
    return adversarial_images, clean, adv, metrics


def attack_reconstruction(
    model: nn.Module,
    inputs: torch.Tensor,
    clean: torch.Tensor,
    attack: DensePGD,
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Attack the ``inputs`` (noisy, or the clean images of an autoencoder) of a restoration
    model: (adversarial inputs, restored from the inputs, restored from the adversarial
    inputs, metrics).

    Metrics: ``num_images``, ``psnr_clean`` and ``ssim_clean`` (restored from the
    unattacked inputs, against ``clean``; the evaluation's ``psnr``),
    ``psnr_adversarial``, ``ssim_adversarial``, ``psnr_drop`` (dB), ``mean_linf``,
    ``mean_l2`` and ``seconds``.  Restored images are clamped to [0, 1].
    """
    start = time.perf_counter()
    adversarial, restored, attacked = [], [], []
    for part in _batches(len(inputs), batch_size):
        x_adv = attack(model, inputs[part], clean[part])
        with torch.no_grad(), frozen(model):
            restored.append(model(inputs[part]).float().clamp(0, 1))
            attacked.append(model(x_adv).float().clamp(0, 1))
        adversarial.append(x_adv)
    adversarial_inputs = torch.cat(adversarial)
    before, after = torch.cat(restored), torch.cat(attacked)
    psnr_before, psnr_after = psnr(clean, before), psnr(clean, after)
    metrics = {
        "num_images": len(inputs),
        "psnr_clean": _finite_mean(psnr_before),
        "psnr_adversarial": _finite_mean(psnr_after),
        "psnr_drop": _finite_mean(psnr_before) - _finite_mean(psnr_after),
        "ssim_clean": ssim(clean, before).mean().item(),
        "ssim_adversarial": ssim(clean, after).mean().item(),
        **_perturbation(inputs, adversarial_inputs),
        "seconds": time.perf_counter() - start,
    }
    return adversarial_inputs, before, after, metrics


def _finite_mean(values: torch.Tensor) -> float:
    """Mean of the finite values (an exact restoration has an infinite PSNR)."""
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if len(finite) else float(np.inf)
