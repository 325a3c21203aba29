"""Predictions of a model over a data set: input fitting, class mapping, batching, TTA."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.data import make_loader
from cnnlab.errors import DataError
from cnnlab.runs.tta import tta_probabilities


def fit_to_input(images: torch.Tensor, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """Convert a batch in [0, 1] to the model's channels and size.

    Grey → RGB repeats the channel, RGB → grey takes the ITU-R BT.601 luma;
    a different size is resized bilinearly (with antialiasing when shrinking).
    """
    channels, height, width = input_shape
    if images.shape[1] != channels:
        if images.shape[1] == 1:
            images = images.expand(-1, channels, -1, -1)
        elif images.shape[1] == 3 and channels == 1:
            luma = torch.tensor([0.299, 0.587, 0.114], device=images.device)
            images = (images * luma[:, None, None]).sum(1, keepdim=True)
        else:
            raise DataError(
                f"Cannot convert {images.shape[1]}-channel images to the model's {channels} "
                "channels; give images with 1 or 3 channels."
            )
    if images.shape[-2:] != (height, width):
        images = F.interpolate(
            images, size=(height, width), mode="bilinear", align_corners=False, antialias=True
        )
    return images


def class_index_map(model_classes: list[str], data_classes: list[str]) -> torch.Tensor:
    """For each data-set label, the index of the class with the same name in the model."""
    missing = [name for name in data_classes if name not in model_classes]
    if missing:
        raise DataError(
            f"The data set has classes the model was not trained on: {missing}. The model "
            f"knows {model_classes}. Evaluate on a data set whose class names are a subset "
            "of the model's."
        )
    return torch.tensor([model_classes.index(name) for name in data_classes])


@torch.inference_mode()
def predict_dataset(
    model: nn.Module,
    dataset,
    input_shape: tuple[int, int, int],
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    tta: str | None = None,
    augment: Sequence[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (images, probabilities, labels) of ``model`` on every image of ``dataset``.

    ``tta`` averages the probabilities over test-time views that follow the
    training augmentation ``augment`` (see `cnnlab.runs.tta`).
    """
    model.eval()
    images, probs, labels = [], [], []
    for x, y in make_loader(dataset, batch_size, shuffle=False, device=device):
        x = fit_to_input(x, input_shape)
        probs.append(tta_probabilities(model, x, tta, augment).cpu())
        images.append((x * 255).round().to(torch.uint8).cpu())
        labels.append(y.cpu())
    return torch.cat(images), torch.cat(probs), torch.cat(labels)
