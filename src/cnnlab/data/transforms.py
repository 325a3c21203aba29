"""Batched, on-device data augmentation for training, named on the command line.

Each transform takes a whole batch ``(B, C, H, W)`` (float in [0, 1], on any
device) and a ``torch.Generator`` on the CPU, and draws one random choice per
image without a Python loop over images (the torchvision policies excepted).
``--augment flip,crop:4,cutout:16`` builds ``Augment(["flip", "crop:4",
"cutout:16"])``; each name takes an optional value after a colon:

=================  ==========================================  =========
name[:value]       what (module with the details)              default
=================  ==========================================  =========
flip               horizontal flip, p = 1/2 (geometric)
alternating_flip   flip a random half, then alternate per epoch
crop:P             pad by P, crop back: shift by ±P px          4
crop_reflect:P     the same, padded by reflection               4
resized_crop:A     crop of area U(A, 1), aspect 3/4-4/3        0.08
rotate:D           rotation by U(±D) degrees                    15
translate:F        shift by U(±F) of the size                   0.1
scale:F            zoom by U(1 ± F)                             0.1
shear:D            shear by U(±D) degrees                       10
lens:K             barrel/pincushion distortion, k ~ U(±K)      0.2
brightness:F       ×U(1 ± F) (photometric)                      0.4
contrast:F         blend with the mean grey, U(1 ± F)           0.4
saturation:F       blend with the grey image, U(1 ± F)          0.4
hue:F              hue rotation by U(±F) turns                  0.1
lighting:S         AlexNet PCA lighting, α ~ N(0, S²)           0.1
cutout:S           zero an S x S square (erasing)               8
erase:P            Random Erasing with probability P            0.5
autoaugment:NAME   policy imagenet, cifar10 or svhn (policies)  imagenet
randaugment:N      N random operations                          2
trivialaugment     one random operation, random magnitude
=================  ==========================================  =========

All of them preserve the label.  Mixup and CutMix change the targets and are
options of their own (`cnnlab.data.mixing`, ``--mixup``/``--cutmix``).
``lighting`` needs the training set's colour covariance: `Augment.fit`.
``alternating_flip`` needs to know which samples a batch holds and in which
epoch: pass `Samples` to the call.

Why cnnlab's own transforms rather than kornia's or torchvision's
(``benchmarks/augmentation.py``, "Batched augmentation" in
``benchmarks/RESULTS.md``): they draw from an explicit generator, which makes a
run and its resumption repeatable (both libraries draw from the global one);
batched, they were the fastest of the three for rotation and colour jitter and
within the noise for flip, crop and erasing; and AlexNet's PCA lighting and
the alternating flip exist in neither.  The policies are
torchvision's, called image by image (`cnnlab.data.policies`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch

from cnnlab.data import erasing, geometric, photometric
from cnnlab.data.policies import POLICIES, apply_policy
from cnnlab.errors import ConfigError, UnknownNameError

BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Samples:
    """Which training samples a batch holds (their indices) and in which epoch.

    Only sample-aware transforms (``alternating_flip``) read it; ``seed`` chooses
    their per-sample random choices.
    """

    indices: torch.Tensor
    epoch: int
    seed: int = 0


class _AlternatingFlip:
    """``alternating_flip`` (`geometric.alternating_flip`), given the batch's samples."""

    def __call__(self, images: torch.Tensor, samples: Samples | None) -> torch.Tensor:
        if samples is None or len(samples.indices) != len(images):
            raise ConfigError(
                "The 'alternating_flip' augmentation flips each sample in alternate epochs, so "
                "it needs the batch's sample indices and the epoch: call augment(images, "
                "generator, Samples(indices, epoch, seed)) with one index per image, or use "
                "'flip' (random flips)."
            )
        return geometric.alternating_flip(images, samples.indices, samples.epoch, samples.seed)


@dataclass(frozen=True)
class _Spec:
    build: Callable[[float], BatchTransform]
    default: float | None  # None: the name takes no value
    kind: type = float
    low: float = 0.0
    high: float = float("inf")


MAX_PAD = 64  # crop padding in pixels: a shift of up to 64 px; more only pads memory away

_SPECS: dict[str, _Spec] = {
    "flip": _Spec(lambda _: geometric.random_flip, None),
    "crop": _Spec(lambda p: partial(geometric.random_crop, padding=p), 4, int, high=MAX_PAD),
    "crop_reflect": _Spec(
        lambda p: partial(geometric.random_crop, padding=p, mode="reflect"), 4, int, high=MAX_PAD
    ),
    "resized_crop": _Spec(
        lambda a: partial(geometric.random_resized_crop, min_area=a), 0.08, high=1.0
    ),
    "rotate": _Spec(lambda d: partial(geometric.random_affine, degrees=d), 15, high=180),
    "translate": _Spec(lambda f: partial(geometric.random_affine, translate=f), 0.1, high=1.0),
    "scale": _Spec(lambda f: partial(geometric.random_affine, scale=f), 0.1, high=0.99),
    "shear": _Spec(lambda d: partial(geometric.random_affine, shear=d), 10, high=60),
    "lens": _Spec(lambda k: partial(geometric.random_lens, strength=k), 0.2, high=1.0),
    "brightness": _Spec(lambda f: partial(photometric.random_brightness, spread=f), 0.4),
    "contrast": _Spec(lambda f: partial(photometric.random_contrast, spread=f), 0.4),
    "saturation": _Spec(lambda f: partial(photometric.random_saturation, spread=f), 0.4),
    "hue": _Spec(lambda f: partial(photometric.random_hue, spread=f), 0.1, high=0.5),
    "cutout": _Spec(lambda s: partial(erasing.cutout, size=s), 8, int),
    "erase": _Spec(lambda p: partial(erasing.random_erasing, probability=p), 0.5, high=1.0),
    "randaugment": _Spec(
        lambda n: partial(apply_policy, policy=POLICIES["randaugment"](n)), 2, int, high=14
    ),
    "trivialaugment": _Spec(
        lambda _: partial(apply_policy, policy=POLICIES["trivialaugment"](None)), None
    ),
}
AUTOAUGMENT_POLICIES = ("imagenet", "cifar10", "svhn")
AUGMENTATIONS = (*_SPECS, "alternating_flip", "lighting", "autoaugment")


def _parse_value(name: str, spec: _Spec, arg: str) -> float:
    if not arg:
        return spec.default
    if spec.default is None:
        raise ConfigError(f"Augmentation {name!r} takes no value; write just {name!r}.")
    try:
        value = spec.kind(arg)
    except ValueError:
        kind = "an integer" if spec.kind is int else "a number"
        raise ConfigError(
            f"Augmentation {name!r} takes {kind}, e.g. {name}:{spec.default}; got {arg!r}."
        ) from None
    if not spec.low <= value <= spec.high:
        raise ConfigError(
            f"Augmentation {name!r} needs a value in [{spec.low}, {spec.high}], got {value}."
        )
    return value


LIGHTING_SAMPLE = 10_000  # images used for the PCA lighting basis of a large set


def training_images(dataset) -> torch.Tensor:
    """The training images as one uint8 batch (a seeded sample of a streamed folder)."""
    if hasattr(dataset, "images"):
        return dataset.images
    count = min(len(dataset), LIGHTING_SAMPLE)
    picks = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:count]
    return torch.stack([dataset[int(i)][0] for i in picks])


class Augment:
    """A sequence of batch transforms parsed from specs like ``["flip", "crop:4"]``.

    A string is the command line's comma-separated form, ``"flip,crop:4"``.
    """

    def __init__(self, specs: Sequence[str] | str):
        if isinstance(specs, str):
            specs = specs.split(",")
        self.specs = [spec.strip() for spec in specs if spec.strip()]
        self.lighting_std: float | None = None
        self._basis: tuple[torch.Tensor, torch.Tensor] | None = None
        self.transforms = [self._build(spec) for spec in self.specs]

    def _build(self, spec: str) -> BatchTransform | _AlternatingFlip:
        name, _, arg = spec.partition(":")
        if name == "alternating_flip":
            _parse_value(name, _Spec(lambda _: None, None), arg)
            return _AlternatingFlip()
        if name == "autoaugment":
            policy = arg or "imagenet"
            if policy not in AUTOAUGMENT_POLICIES:
                raise UnknownNameError("AutoAugment policy", policy, AUTOAUGMENT_POLICIES)
            return partial(apply_policy, policy=POLICIES["autoaugment"](policy))
        if name == "lighting":
            self.lighting_std = _parse_value(name, _Spec(lambda s: s, 0.1), arg)
            return self._lighting
        if name not in _SPECS:
            raise UnknownNameError("augmentation", name, AUGMENTATIONS)
        spec_info = _SPECS[name]
        return spec_info.build(_parse_value(name, spec_info, arg))

    def fit(self, train_images: torch.Tensor) -> Augment:
        """Learn what data-dependent transforms need (the PCA lighting basis)."""
        if self.lighting_std is not None:
            self._basis = photometric.lighting_basis(train_images)
        return self

    def _lighting(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self._basis is None:
            raise ConfigError(
                "The 'lighting' augmentation needs the training set's colour statistics: "
                "call Augment.fit(train_images) first."
            )
        return photometric.pca_lighting(images, generator, self._basis, self.lighting_std)

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator, samples: Samples | None = None
    ) -> torch.Tensor:
        for transform in self.transforms:
            if isinstance(transform, _AlternatingFlip):
                images = transform(images, samples)
            else:
                images = transform(images, generator)
        return images

    def __bool__(self) -> bool:
        return bool(self.transforms)
