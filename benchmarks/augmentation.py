"""Batched augmentation: cnnlab against kornia.augmentation and torchvision.transforms.v2.

One run times every transform of each library on the same batch (default 256
CIFAR-sized float images in [0, 1] on the CPU), the libraries alternated within
each repeat so that a change in the machine's load hits all of them alike; the
table gives the median milliseconds per batch.  Every column draws one random
choice per image:

- cnnlab: :class:`cnnlab.data.transforms.Augment` as ``cnnlab train --augment``
  runs it (one batched call; the policies loop over images, see
  :mod:`cnnlab.data.policies`);
- kornia: the batched ``kornia.augmentation`` module of the same transform;
- torchvision: ``transforms.v2`` applied image by image, since a v2 transform
  called on a batch draws *one* choice for the whole batch.

    python benchmarks/augmentation.py --threads 2 --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import kornia.augmentation as K
import kornia.augmentation.auto as KA
import torch
from torchvision.transforms import v2

from cnnlab.data.transforms import Augment

Fn = Callable[[torch.Tensor], torch.Tensor]


def _per_image(transform: v2.Transform, uint8: bool = False) -> Fn:
    """Apply a torchvision transform to each image on its own (one draw per image)."""

    def run(images: torch.Tensor) -> torch.Tensor:
        if uint8:
            as_uint8 = (images * 255).round().to(torch.uint8)
            return torch.stack([transform(image) for image in as_uint8]).float() / 255
        return torch.stack([transform(image) for image in images])

    return run


def _cnnlab(spec: str) -> Fn:
    augment = Augment(spec)
    generator = torch.Generator().manual_seed(0)
    return lambda images: augment(images, generator)


def cases(size: int) -> dict[str, dict[str, Fn]]:
    """Per transform: the function of each library, built once."""
    jitter = (0.4, 0.4, 0.4, 0.1)
    return {
        "flip": {
            "cnnlab": _cnnlab("flip"),
            "kornia": K.RandomHorizontalFlip(p=0.5),
            "torchvision": _per_image(v2.RandomHorizontalFlip(0.5)),
        },
        "crop (pad 4)": {
            "cnnlab": _cnnlab("crop:4"),
            "kornia": K.RandomCrop((size, size), padding=4),
            "torchvision": _per_image(v2.RandomCrop(size, padding=4)),
        },
        "rotate ±15°": {
            "cnnlab": _cnnlab("rotate:15"),
            "kornia": K.RandomRotation(15.0, p=1.0),
            "torchvision": _per_image(v2.RandomRotation(15)),
        },
        "colour jitter": {
            "cnnlab": _cnnlab("brightness:0.4,contrast:0.4,saturation:0.4,hue:0.1"),
            "kornia": K.ColorJitter(*jitter, p=1.0),
            "torchvision": _per_image(v2.ColorJitter(*jitter)),
        },
        "random erasing": {
            "cnnlab": _cnnlab("erase:0.5"),
            "kornia": K.RandomErasing(scale=(0.02, 0.4), p=0.5),
            "torchvision": _per_image(v2.RandomErasing(0.5, scale=(0.02, 0.4))),
        },
        "AutoAugment (CIFAR-10)": {
            "cnnlab": _cnnlab("autoaugment:cifar10"),
            "kornia": KA.AutoAugment("cifar10"),
            "torchvision": _per_image(v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10), uint8=True),
        },
        "RandAugment (N=2, M=9)": {
            "cnnlab": _cnnlab("randaugment:2"),
            "kornia": KA.RandAugment(n=2, m=9),
            "torchvision": _per_image(v2.RandAugment(num_ops=2, magnitude=9), uint8=True),
        },
        "TrivialAugment": {
            "cnnlab": _cnnlab("trivialaugment"),
            "kornia": KA.TrivialAugment(),
            "torchvision": _per_image(v2.TrivialAugmentWide(), uint8=True),
        },
    }


def time_once(fn: Fn, images: torch.Tensor) -> float:
    started = time.perf_counter()
    with torch.no_grad():
        out = fn(images)
    elapsed = time.perf_counter() - started
    if out.shape != images.shape:
        raise RuntimeError(f"{fn} changed the shape {tuple(images.shape)} to {tuple(out.shape)}")
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="images per batch")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per transform")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.rand(args.batch, 3, args.size, args.size)
    table = cases(args.size)
    times: dict[tuple[str, str], list[float]] = {}
    for name, libraries in table.items():
        for fn in libraries.values():
            time_once(fn, images)  # warm-up
        for _ in range(args.repeats):
            for library, fn in libraries.items():  # alternated within each repeat
                times.setdefault((name, library), []).append(time_once(fn, images))
    libraries = ["cnnlab", "kornia", "torchvision"]
    print(
        f"{args.batch} images of 3x{args.size}x{args.size}, {args.threads} threads, "
        f"median of {args.repeats} calls, ms per batch (torch {torch.__version__})"
    )
    print("| transform | " + " | ".join(libraries) + " | fastest |")
    print("|---" * (len(libraries) + 2) + "|")
    for name in table:
        medians = {lib: statistics.median(times[(name, lib)]) for lib in libraries}
        fastest = min(medians, key=medians.get)
        cells = " | ".join(f"{medians[lib]:.1f}" for lib in libraries)
        print(f"| {name} | {cells} | {fastest} |")


if __name__ == "__main__":
    main()
