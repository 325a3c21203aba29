"""Segmentation canvases: several real glyphs on a background, with exact per-pixel masks.

A data set for semantic segmentation built deterministically from a
classification set cnnlab already reads (the embedded digits by default;
MNIST, Fashion-MNIST or CIFAR-10 with ``canvas_source``): each 64x64 canvas
holds a few glyphs of four classes, each scaled and placed at random on a dark,
slightly noisy background; a pixel's label is the class of the glyph that
covers it (later glyphs on top), or ``background``.  A grey glyph covers the
pixels of its stroke (brighter than a fixed share of its maximum) and a CIFAR
photograph its whole square, so every mask is exact by construction: the
canvas shows the glyph's own pixels exactly where its label is.  The glyphs of
the test canvases come from images that no training canvas uses (the source's
official test split, or a fixed 20 % of the embedded digits), so the test
measures segmentation of unseen objects.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from cnnlab.data.cifar import load_cifar
from cnnlab.data.datasets import TensorImageDataset
from cnnlab.data.digits import load_digits
from cnnlab.data.idx import load_idx_dataset
from cnnlab.errors import ConfigError, DataError, check_choice

BACKGROUND = "background"
STROKE = 0.35  # a glyph pixel brighter than this (of its maximum) belongs to the glyph
CANVAS_SEED = 20261207  # constant: the canvases never change between runs
# The four object classes of each source (names as the source spells them).
CANVAS_SOURCES: dict[str, tuple[str, ...]] = {
    "digits": ("0", "1", "2", "3"),
    "mnist": ("0", "1", "2", "3"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Sneaker", "Bag"),
    "cifar10": ("airplane", "automobile", "bird", "cat"),
}
GLYPHS_PER_CLASS = (1000, 250)  # glyphs drawn from each class's train / test images


def _glyphs(images: torch.Tensor) -> torch.Tensor:
    """Float glyphs in [0, 1] cropped to their ink's bounding box union (a square crop)."""
    glyphs = images.float() / 255
    ink = glyphs.amax(dim=(0, 1)) > 0
    rows, cols = ink.any(1).nonzero(), ink.any(0).nonzero()
    return glyphs[:, :, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def compose_canvases(
    glyphs: torch.Tensor,
    labels: torch.Tensor,
    count: int,
    *,
    size: int = 64,
    per_canvas: tuple[int, int] = (2, 4),
    scale: tuple[int, int] = (18, 30),
    seed: int = CANVAS_SEED,
    opaque: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` canvases ``(N, C, size, size)`` uint8 and their masks ``(N, size, size)``.

    ``glyphs`` are ``(M, C, h, w)`` floats in [0, 1]; ``labels`` their mask values
    (1 = the first object class; 0 is background).  Each canvas draws between
    ``per_canvas[0]`` and ``per_canvas[1]`` glyphs, each resized to a side drawn
    from ``scale`` and placed uniformly inside the canvas.  A glyph covers its
    stroke, or with ``opaque`` its whole square (photographs).
    """
    if scale[1] > size:
        raise ConfigError(f"glyphs of up to {scale[1]} pixels do not fit a {size}-pixel canvas.")
    rng = np.random.default_rng(seed)
    channels = glyphs.shape[1]
    canvases = torch.zeros(count, channels, size, size)
    masks = torch.zeros(count, size, size, dtype=torch.int64)
    for n in range(count):
        canvases[n] = torch.from_numpy(rng.uniform(0, 0.12, (channels, size, size)))
        for _ in range(rng.integers(per_canvas[0], per_canvas[1] + 1)):
            pick = int(rng.integers(len(glyphs)))
            side = int(rng.integers(scale[0], scale[1] + 1))
            glyph = F.interpolate(glyphs[pick : pick + 1], size=(side, side), mode="bilinear")[0]
            top, left = (int(v) for v in rng.integers(0, size - side + 1, 2))
            stroke = (
                torch.ones_like(glyph[0], dtype=torch.bool)
                if opaque
                else glyph[0] > (STROKE * glyph.max())
            )
            window = canvases[n, :, top : top + side, left : left + side]
            window[:, stroke] = glyph[:, stroke]
            masks[n, top : top + side, left : left + side][stroke] = int(labels[pick])
    return (canvases * 255).round().clamp(0, 255).to(torch.uint8), masks


def load_digit_canvases(
    digits: tuple[int, ...] = (0, 1, 2, 3), train: int = 2000, test: int = 400
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """Train and test canvases of the embedded digits ``digits`` (classes: background + those).

    The digits are split 80/20 by a fixed seed first; training canvases use the
    80 %, test canvases the 20 %.
    """
    source = load_digits()
    chosen = torch.isin(source.labels, torch.tensor(digits))
    images, labels = source.images[chosen], source.labels[chosen]
    mask_values = torch.tensor([digits.index(int(d)) + 1 for d in labels])
    order = torch.from_numpy(np.random.default_rng(CANVAS_SEED).permutation(len(labels)))
    cut = int(0.8 * len(order))
    glyphs = _glyphs(images)
    classes = [BACKGROUND, *(str(d) for d in digits)]
    splits = []
    for part, count, seed in (
        (order[:cut], train, CANVAS_SEED),
        (order[cut:], test, CANVAS_SEED + 1),
    ):
        canvases, masks = compose_canvases(glyphs[part], mask_values[part], count, seed=seed)
        splits.append(TensorImageDataset(canvases, masks, classes))
    return splits[0], splits[1]


def load_canvases(
    source: str = "digits",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = False,
    train: int = 2000,
    test: int = 400,
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """Train and test canvases of the four `CANVAS_SOURCES` classes of ``source``.

    ``data_dir`` holds the source's files (as for ``--dataset SOURCE``).  The
    first `GLYPHS_PER_CLASS` images of each class in the source's train
    and test files, in file order, are the glyphs of the train and test canvases.
    """
    check_choice("canvas source", source, CANVAS_SOURCES)
    if source == "digits":
        return load_digit_canvases(train=train, test=test)
    if source == "cifar10":
        parts = load_cifar(source, data_dir, download=download)
    else:
        parts = load_idx_dataset(source, data_dir, download=download)
    names = CANVAS_SOURCES[source]
    classes = [BACKGROUND, *names]
    splits = []
    for part, keep, count, seed in zip(
        parts, GLYPHS_PER_CLASS, (train, test), (CANVAS_SEED, CANVAS_SEED + 1), strict=True
    ):
        wanted = torch.tensor([part.classes.index(name) for name in names])
        chosen = torch.cat([(part.labels == c).nonzero()[:keep, 0] for c in wanted])
        if len(chosen) == 0:
            raise DataError(f"the {source} files hold no images of the classes {list(names)}.")
        mask_values = (part.labels[chosen, None] == wanted).int().argmax(1) + 1
        opaque = source == "cifar10"  # photographs cover their square; grey glyphs their ink
        glyphs = part.images[chosen].float() / 255 if opaque else _glyphs(part.images[chosen])
        canvases, masks = compose_canvases(glyphs, mask_values, count, seed=seed, opaque=opaque)
        splits.append(TensorImageDataset(canvases, masks, classes))
    return splits[0], splits[1]
