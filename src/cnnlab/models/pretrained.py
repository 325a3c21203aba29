"""Pretrained weights by name: torchvision's files, found on this machine, and their preprocessing.

``create_model("resnet18", pretrained=True)`` (or ``weights="DEFAULT"``, or a
torchvision weights name such as ``weights="IMAGENET1K_V2"``) loads the file
torchvision would download for the model's torchvision counterpart
(``ModelInfo.torchvision``).  Nothing is downloaded: the file is looked up
under the exact name torchvision gives it (the last part of its URL, such as
``resnet18-f37072fd.pth``) in

1. the folder named by the ``CNNLAB_WEIGHTS`` environment variable, then
2. torch.hub's cache, ``$TORCH_HOME/hub/checkpoints`` (`torch.hub.get_dir`),
   where torchvision itself keeps what it downloads;

a missing file is a `ConfigError` that names the file,
its URL and both folders.

The images must be prepared as the weights were trained: `Preprocessing`
carries the crop and resize sizes, mean/std and interpolation of torchvision's
``Weights.transforms()`` (``ImageClassification``; for GoogLeNet and
Inception v3, mean and std 0.5, see `TRANSFORM_INPUT`); its ``transforms()`` is the
same pipeline in ``torchvision.transforms.v2``.  A model loaded this way keeps
its `PretrainedWeights` as ``model.pretrained_cfg`` (timm's name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torchvision.transforms import InterpolationMode, v2

from cnnlab.errors import ConfigError

WEIGHTS_ENV = "CNNLAB_WEIGHTS"

#: torchvision models whose pretrained weights come with ``transform_input=True``: the
#: network maps ImageNet-normalized input back to [-1, 1] itself (torchvision's
#: ``googlenet``/``inception_v3`` builders).  cnnlab's do not, so for them the weights
#: expect ``Normalize(0.5, 0.5)``, the composition of the two.
TRANSFORM_INPUT = frozenset({"googlenet", "inception_v3"})


@dataclass(frozen=True)
class Preprocessing:
    """How images must be prepared for a set of weights (torchvision's ``ImageClassification``):
    resize the shorter side to ``resize_size`` with ``interpolation``, centre-crop
    ``input_size``, scale to [0, 1], subtract ``mean`` and divide by ``std`` per channel."""

    input_size: int
    resize_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str

    def transforms(self) -> v2.Compose:
        """The transform doing this preprocessing on a PIL image or a uint8 tensor
        (equal to torchvision's ``Weights.transforms()``)."""
        return v2.Compose(
            [
                v2.Resize(self.resize_size, InterpolationMode(self.interpolation), antialias=True),
                v2.CenterCrop(self.input_size),
                v2.ToImage(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(self.mean, self.std),
            ]
        )


@dataclass(frozen=True)
class PretrainedWeights:
    """torchvision weights of a model: enum member (``ResNet18_Weights.IMAGENET1K_V1``),
    download URL, the file name torchvision stores it under, and the preprocessing."""

    name: str
    url: str
    file_name: str
    preprocessing: Preprocessing


def is_weights_name(weights: object) -> bool:
    """Whether ``weights`` names torchvision weights (``"DEFAULT"``, ``"IMAGENET1K_V2"``)
    rather than a file: an upper-case word that is not an existing path."""
    return (
        isinstance(weights, str)
        and weights.replace("_", "").isalnum()
        and weights.upper() == weights
        and not Path(weights).exists()
    )


def pretrained_weights(model: str, torchvision_name: str | None, which: str = "DEFAULT"):
    """The `PretrainedWeights` ``which`` of a model whose torchvision builder is
    ``torchvision_name``.

    Raises
    ------
    ConfigError
        The model has no torchvision counterpart, or ``which`` is not one of its weights.
    """
    if torchvision_name is None:
        raise ConfigError(
            f"{model} has no torchvision weights to load by name. Pass weights=PATH of a "
            "state dict saved for it instead (see `cnnlab models` for the torchvision ones)."
        )
    enum = torchvision.models.get_model_weights(torchvision_name)
    if which not in enum.__members__:
        raise ConfigError(
            f"{model} has no weights {which!r}. torchvision's weights for it are: "
            f"{', '.join(enum.__members__)}."
        )
    member = enum[which]
    t = member.transforms()
    mean, std = (0.5,) * 3, (0.5,) * 3
    if torchvision_name not in TRANSFORM_INPUT:
        mean, std = tuple(t.mean), tuple(t.std)
    return PretrainedWeights(
        name=f"{type(member).__name__}.{member.name}",
        url=member.url,
        file_name=member.url.rsplit("/", 1)[-1],
        preprocessing=Preprocessing(
            input_size=t.crop_size[0],
            resize_size=t.resize_size[0],
            mean=mean,
            std=std,
            interpolation=t.interpolation.value,
        ),
    )


def weights_folders() -> list[Path]:
    """Where pretrained files are looked up, in order: ``$CNNLAB_WEIGHTS``, then
    torch.hub's ``checkpoints`` folder."""
    folders = [Path(os.environ[WEIGHTS_ENV])] if os.environ.get(WEIGHTS_ENV) else []
    return [*folders, Path(torch.hub.get_dir()) / "checkpoints"]


def find_weights_file(weights: PretrainedWeights) -> Path:
    """The local file of ``weights``.

    Raises
    ------
    ConfigError
        No folder holds it; the message names the file, its URL and the folders.
    """
    folders = weights_folders()
    for folder in folders:
        if (folder / weights.file_name).is_file():
            return folder / weights.file_name
    raise ConfigError(
        f"The pretrained weights {weights.name} are not on this machine: cnnlab looks for the "
        f"file {weights.file_name} in {' and '.join(str(f) for f in folders)}. Download "
        f"{weights.url} and put it in one of them (torch.hub's checkpoints folder is "
        f"$TORCH_HOME/hub/checkpoints; or set {WEIGHTS_ENV} to the folder that holds it)."
    )
