"""``cnnlab predict`` for a segmentation run: write each image's predicted mask.

The image is resized to the run's input size for the network, and the
predicted classes are resized back to the file's own pixels (nearest
neighbour, so no new classes appear).  In ``--masks-dir`` (default the current
folder) go ``<stem>.mask.png``, an index PNG whose pixel values are the class
numbers (palette mode, the run's class colours: the format ``segfolder``
reads), and ``<stem>.overlay.png``, the image with every class but the first
(background) painted over it.  Each image's share of pixels per class is
printed.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torchvision.io import encode_png
from torchvision.utils import draw_segmentation_masks

from cnnlab.data.image import read_image, resize
from cnnlab.errors import ConfigError
from cnnlab.fileio import write_bytes
from cnnlab.report.segmentation_figures import class_colours
from cnnlab.runs import load_run


def predict_masks_command(args: argparse.Namespace) -> int:
    """Segment each image file: print its class shares, write its mask and overlay."""
    run = load_run(args.run)
    channels, height, width = run.input_shape
    palette = [tuple(round(255 * v) for v in c) for c in class_colours(len(run.classes)).colors]
    out_dir = Path(args.masks_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in args.images:
        original = read_image(path, channels)
        image = resize(original, (height, width)).float().div(255)
        with torch.inference_mode():
            predicted = run.model(image[None]).argmax(1)
        size = list(original.shape[-2:])
        mask = TF.resize(predicted, size, TF.InterpolationMode.NEAREST_EXACT)[0]
        shares = torch.bincount(mask.flatten(), minlength=len(run.classes)) / mask.numel()
        listed = [
            f"{name} {100 * share:.1f} %"
            for name, share in zip(run.classes, shares.tolist(), strict=True)
            if share > 0
        ]
        print(f"{path}: {', '.join(listed)}")
        stem = out_dir / Path(path).stem
        write_bytes(f"{stem}.mask.png", index_png(mask, palette))
        write_bytes(f"{stem}.overlay.png", overlay_png(original, mask, palette))
        print(f"  mask: {stem}.mask.png, overlay: {stem}.overlay.png")
    return 0


def overlay_png(
    image: torch.Tensor, mask: torch.Tensor, palette: list[tuple[int, int, int]]
) -> bytes:
    """PNG of the uint8 ``image`` with each class but background painted at half opacity."""
    image = image.expand(3, -1, -1)
    present = [c for c in mask.unique().tolist() if c > 0]
    if present:
        layers = torch.stack([mask == c for c in present])
        image = draw_segmentation_masks(image, layers, 0.5, [palette[c] for c in present])
    return encode_png(image).numpy().tobytes()


def index_png(mask: torch.Tensor, palette: list[tuple[int, int, int]]) -> bytes:
    """A palette PNG whose pixel values are ``mask``'s class numbers (at most 256 classes)."""
    if len(palette) > 256:
        raise ConfigError(
            f"an index PNG holds at most 256 classes; this run has {len(palette)}. "
            "Evaluate it with cnnlab evaluate instead."
        )
    pil = Image.fromarray(mask.numpy().astype(np.uint8))
    pil.putpalette([v for colour in palette for v in colour])
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()
