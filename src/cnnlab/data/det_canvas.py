"""Detection canvases: 1-5 real glyphs at random scales and positions, with exact boxes.

A detection data set built deterministically from a classification set
cnnlab already reads (the embedded digits by default, or MNIST /
Fashion-MNIST from ``data_dir``): each 96x96 canvas holds between one and five
glyphs of three classes, each resized to a side drawn from 20..40 pixels and
placed where it overlaps no earlier glyph, on a dark, slightly noisy
background.  A glyph's box is the bounding box of its stroke pixels (the
pixels that `STROKE` calls ink), so boxes are exact.
Test canvases use glyph images that no training canvas uses.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from cnnlab.data.canvas import CANVAS_SEED, STROKE, _glyphs
from cnnlab.data.datasets import TensorImageDataset
from cnnlab.data.detection import DetectionDataset, pad_targets
from cnnlab.data.digits import load_digits
from cnnlab.data.idx import load_idx_dataset
from cnnlab.errors import ConfigError, check_choice

SIZE = 96
PLACEMENT_TRIES = 50
# The three source classes drawn on the canvases: distinct shapes for Fashion-MNIST
# (trouser, sneaker, bag); the first three digits otherwise.
SOURCE_CLASSES = {"digits": (0, 1, 2), "mnist": (0, 1, 2), "fashion-mnist": (1, 7, 8)}


def compose_detection_canvases(
    glyphs: torch.Tensor,
    labels: torch.Tensor,
    count: int,
    *,
    size: int = SIZE,
    per_canvas: tuple[int, int] = (1, 5),
    scale: tuple[int, int] = (20, 40),
    seed: int = CANVAS_SEED,
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """``count`` canvases ``(N, C, size, size)`` uint8, their boxes and classes.

    ``glyphs`` are float in [0, 1] ``(G, C, h, w)``, ``labels`` their classes.
    A canvas draws between ``per_canvas[0]`` and ``per_canvas[1]`` glyphs; a glyph
    that finds no free place in `PLACEMENT_TRIES` draws is left out, so a
    canvas holds at least one and at most ``per_canvas[1]`` objects.
    """
    if scale[1] > size:
        raise ConfigError(f"glyphs of up to {scale[1]} pixels do not fit a {size}-pixel canvas.")
    rng = np.random.default_rng(seed)
    canvases = torch.zeros(count, glyphs.shape[1], size, size)
    all_boxes, all_classes = [], []
    for n in range(count):
        canvases[n] = torch.from_numpy(rng.uniform(0, 0.12, (glyphs.shape[1], size, size)))
        taken: list[tuple[int, int, int]] = []  # (top, left, side) of the placed squares
        boxes, classes = [], []
        for _ in range(rng.integers(per_canvas[0], per_canvas[1] + 1)):
            pick = int(rng.integers(len(glyphs)))
            side = int(rng.integers(scale[0], scale[1] + 1))
            place = _free_place(rng, taken, side, size)
            if place is None:
                continue
            top, left = place
            taken.append((top, left, side))
            glyph = F.interpolate(glyphs[pick : pick + 1], size=(side, side), mode="bilinear")[0]
            ink = glyph.amax(0)
            stroke = ink > STROKE * ink.max()
            window = canvases[n, :, top : top + side, left : left + side]
            window[:, stroke] = glyph[:, stroke]
            rows, cols = stroke.any(1).nonzero()[:, 0], stroke.any(0).nonzero()[:, 0]
            boxes.append(
                [left + cols.min(), top + rows.min(), left + cols.max() + 1, top + rows.max() + 1]
            )
            classes.append(int(labels[pick]))
        all_boxes.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
        all_classes.append(torch.tensor(classes, dtype=torch.int64))
    images = (canvases * 255).round().clamp(0, 255).to(torch.uint8)
    return images, all_boxes, all_classes


def _free_place(rng, taken, side: int, size: int) -> tuple[int, int] | None:
    """A random top-left corner whose ``side`` square overlaps none of ``taken``."""
    for _ in range(PLACEMENT_TRIES):
        top, left = (int(v) for v in rng.integers(0, size - side + 1, 2))
        if all(
            top >= t + s or t >= top + side or left >= c + s or c >= left + side
            for t, c, s in taken
        ):
            return top, left
    return None


def _source_images(
    source: str, data_dir: str | os.PathLike | None
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """Glyph images for training and for test canvases (disjoint)."""
    if source == "digits":
        digits = load_digits()
        order = torch.from_numpy(np.random.default_rng(CANVAS_SEED).permutation(len(digits)))
        cut = int(0.8 * len(order))
        return digits.subset(order[:cut].sort().values), digits.subset(order[cut:].sort().values)
    return load_idx_dataset(source, data_dir)


def load_detection_canvases(
    source: str = "digits",
    data_dir: str | os.PathLike | None = None,
    *,
    train: int = 2000,
    test: int = 400,
) -> tuple[DetectionDataset, DetectionDataset]:
    """Train and test canvases of glyphs from ``source`` (digits, mnist or fashion-mnist)."""
    check_choice("canvas source", source, SOURCE_CLASSES)
    chosen_classes = SOURCE_CLASSES[source]
    splits = []
    for part, count, seed in zip(
        _source_images(source, data_dir), (train, test), (CANVAS_SEED, CANVAS_SEED + 1), strict=True
    ):
        keep = torch.isin(part.labels, torch.tensor(chosen_classes))
        labels = torch.tensor([chosen_classes.index(int(c)) for c in part.labels[keep]])
        images, boxes, classes = compose_detection_canvases(
            _glyphs(part.images[keep]), labels, count, seed=seed
        )
        names = [part.classes[c] for c in chosen_classes]
        splits.append(DetectionDataset(images, pad_targets(boxes, classes), names))
    return splits[0], splits[1]
