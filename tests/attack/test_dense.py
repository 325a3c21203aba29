"""Dense attacks: torchattacks' FGSM/BIM on a segmentation net, mIoU and PSNR by other routes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchattacks
from sklearn.metrics import jaccard_score
from torch import nn

from cnnlab.attack.dense import DensePGD, attack_reconstruction, attack_segmentation
from cnnlab.errors import DataError
from cnnlab.metrics.restoration import psnr
from cnnlab.models.autoencoder import ConvAutoencoder  # noqa: F401  (registers the model)
from cnnlab.models.registry import create_model_for_input
from cnnlab.models.segnet import SegNet

CLASSES = ["background", "a", "b"]


@pytest.fixture(scope="module")
def segnet():
    torch.manual_seed(0)
    return SegNet(len(CLASSES), 1, ((1, 4), (1, 8))).eval()


@pytest.fixture(scope="module")
def batch(segnet):
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(4, 1, 16, 16, generator=generator)
    masks = torch.randint(0, len(CLASSES), (4, 16, 16), generator=generator)
    return images, masks


def test_fgsm_on_pixel_cross_entropy_is_torchattacks_fgsm(segnet, batch):
    # torchattacks' loss is the mean cross-entropy over the batch and every pixel: the
    # gradient's sign is ours (the mean over each image's pixels, summed over images).
    images, masks = batch
    expected = torchattacks.FGSM(segnet, eps=0.03)(images, masks)
    torch.testing.assert_close(DensePGD.fgsm(0.03)(segnet, images, masks), expected)


def test_pgd_from_the_image_is_torchattacks_bim(segnet, batch):
    images, masks = batch
    expected = torchattacks.BIM(segnet, eps=0.05, alpha=0.01, steps=4)(images, masks)
    ours = DensePGD(0.05, alpha=0.01, steps=4, random_start=False)(segnet, images, masks)
    torch.testing.assert_close(ours, expected)


def _sklearn_miou(masks: torch.Tensor, predicted: torch.Tensor) -> float:
    present = np.union1d(masks.unique().numpy(), predicted.unique().numpy())
    return jaccard_score(masks.flatten(), predicted.flatten(), labels=present, average="macro")


def test_segmentation_damage_is_the_miou_of_the_returned_masks(batch):
    images, masks = batch
    torch.manual_seed(0)  # a per-pixel net whose predictions follow the image
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))
    with torch.no_grad():  # half the pixels as the net predicts them: something to lose
        masks = torch.where(torch.rand(masks.shape) < 0.5, net(images).argmax(1), masks)
    attack = DensePGD(0.1, steps=3, seed=0)
    adversarial, clean, adv, metrics = attack_segmentation(
        net, images, masks, attack, CLASSES, batch_size=3
    )
    with torch.no_grad():
        assert torch.equal(clean, net(images).argmax(1))
        assert torch.equal(adv, net(adversarial).argmax(1))
    assert metrics["miou_clean"] == pytest.approx(_sklearn_miou(masks, clean))
    assert metrics["miou_adversarial"] == pytest.approx(_sklearn_miou(masks, adv))
    assert metrics["pixel_accuracy_adversarial"] == pytest.approx((adv == masks).float().mean())
    assert metrics["pixel_accuracy_adversarial"] < metrics["pixel_accuracy_clean"]
    assert (adversarial - images).abs().max() <= 0.1 + 1e-6
    assert metrics["mean_linf"] == pytest.approx(0.1, abs=1e-6)


@pytest.fixture(scope="module")
def autoencoder():
    torch.manual_seed(0)
    return create_model_for_input("conv_autoencoder", 1, (1, 16, 16)).eval()


def test_reconstruction_fgsm_is_one_signed_step_up_the_squared_error(autoencoder):
    clean = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    x = clean.clone().requires_grad_(True)
    (autoencoder(x) - clean).square().flatten(1).mean(1).sum().backward()
    expected = (clean + 0.02 * x.grad.sign()).clamp(0, 1)
    ours = DensePGD.fgsm(0.02, loss="mse")(autoencoder, clean, clean)
    torch.testing.assert_close(ours, expected)


def test_reconstruction_damage_is_the_psnr_drop_of_the_restored_images(autoencoder):
    clean = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    noisy = clean + 0.2 * torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    attack = DensePGD(0.05, loss="mse", steps=3, box=False, seed=0)
    adversarial, before, after, metrics = attack_reconstruction(autoencoder, noisy, clean, attack)
    with torch.no_grad():
        torch.testing.assert_close(after, autoencoder(adversarial).clamp(0, 1))
    assert metrics["psnr_clean"] == pytest.approx(psnr(clean, before).mean().item())
    assert metrics["psnr_adversarial"] == pytest.approx(psnr(clean, after).mean().item())
    assert metrics["psnr_drop"] > 0
    assert (adversarial - noisy).abs().max() <= 0.05 + 1e-6  # no [0, 1] box on noisy inputs
    assert noisy.min() < 0 and adversarial.min() < 0


def test_boxed_attacks_refuse_inputs_outside_the_unit_interval(segnet, batch):
    images, masks = batch
    with pytest.raises(DataError, match="box=False"):
        DensePGD.fgsm(0.03)(segnet, images - 0.5, masks)
