"""Named training recipes: the settings of a whole run for one kind of data.

``cnnlab train --recipe fast --dataset fashion-mnist`` starts from the recipe's
settings; every flag given on the command line (or key of ``--config``) that the
recipe also sets is overridden by it, as a flag overrides a config file.  In
Python, `cnnlab.train.config.TrainConfig.from_recipe` does the same.

A recipe is tuned for images of one shape; `Recipe.check_data` refuses
others with a `ConfigError` before anything trains.

``fast`` follows K. Jordan, "94 % on CIFAR-10 in 3.29 seconds on a single GPU"
(arXiv:2404.00498, 2024; "airbench"), scaled down to 28x28 grey images on one
CPU core: a small network of conv-pool-BN-GELU blocks (``fastcnn28``, BN with a
high momentum), batches of 256 held in memory as uint8 and normalised on the fly
(cnnlab's loader: no DataLoader workers), bf16 autocast (AVX512-BF16/AMX CPUs;
1.3-1.45x on networks of this size), a short warm-up and a linear decay to zero, label
smoothing, and 2 % of the training images for validation.  AdamW replaces
airbench's Nesterov SGD: after one epoch it was half a point ahead on
Fashion-MNIST (88.6 % against 88.2 %).  There is no augmentation: flips change
the class of digits and letters (mnist, kmnist), and in a run of a few epochs
flips and translations cost more accuracy than they add (Fashion-MNIST, five
epochs: 90.4 % with flips, 2-pixel shifts and flip TTA).  What it achieves
against the PyTorch tutorial baseline is in ``benchmarks/RESULTS.md``
(``benchmarks/lenet.py --fast``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cnnlab.errors import ConfigError


@dataclass(frozen=True)
class Recipe:
    """A named set of `TrainConfig` settings.

    ``input_shape`` is the ``(C, H, W)`` of the images it is made for (None: any).
    """

    name: str
    summary: str
    settings: Mapping[str, Any]
    input_shape: tuple[int, int, int] | None = None

    def check_data(self, input_shape: tuple[int, ...], dataset: str) -> None:
        """Refuse data of another shape than the recipe's, saying what to do instead."""
        if self.input_shape is None or tuple(input_shape) == self.input_shape:
            return
        c, h, w = self.input_shape
        got_c, got_h, got_w = input_shape
        kind = "grey" if c == 1 else f"{c}-channel"
        raise ConfigError(
            f"recipe {self.name!r} is made for {h}x{w} {kind} images ({c}x{h}x{w}); "
            f"data set {dataset!r} has {got_c}x{got_h}x{got_w} images. Use it on "
            "fashion-mnist, mnist, kmnist or an image folder of 28x28 grey images; "
            "for other data drop --recipe and choose the model and "
            "schedule with the other flags."
        )


FAST = Recipe(
    name="fast",
    summary="airbench-style time to accuracy on 28x28 grey images (Jordan 2024)",
    settings={
        "model": "fastcnn28",
        "epochs": 4,
        "batch_size": 256,
        "optimizer": "adamw",
        "lr": 4e-3,
        "weight_decay": 5e-4,
        "no_bias_decay": True,
        "scheduler": "linear",
        "warmup_epochs": 0.3,
        "label_smoothing": 0.1,
        "augment": [],
        "val_fraction": 0.02,
        "precision": "bf16",
        "channels_last": True,
    },
    input_shape=(1, 28, 28),
)

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (FAST,)}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, or a `ConfigError` listing the recipes."""
    if name not in RECIPES:
        raise ConfigError(f"Unknown recipe {name!r}; choose one of {', '.join(RECIPES)}.")
    return RECIPES[name]
