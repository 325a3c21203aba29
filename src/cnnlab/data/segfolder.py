"""Segmentation folders: image/mask pairs a user brings, as a folder or a tar archive.

Layout:

    root/classes.txt       one class name per line; line i names mask value i
    root/images/<stem>.*   the images (.png .jpg .jpeg .bmp .gif .webp)
    root/masks/<stem>.png  index PNGs of the same size: one class number per pixel

A mask is a palette PNG (mode ``P``, the PASCAL VOC convention: the pixel
values are the palette indices, i.e. the class numbers) or a greyscale PNG
(mode ``L``) holding the class numbers directly.  Every image needs a mask of
its own stem and size, every mask an image, and every mask value a line in
``classes.txt``; anything else is a `DataError` naming
the file and what to change.  Archives (``.tar``, ``.tar.gz``, ``.tgz``) are
extracted safely first (`cnnlab.data.archive`); one wrapping folder
(``data/images``, ...) is descended through.

Images keep their own size (all must share it) unless ``image_size`` resizes
them (bilinear) and their masks (nearest neighbour, so that no new class
values appear) to a square.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, UnidentifiedImageError

from cnnlab.data.archive import extract, is_archive
from cnnlab.data.datasets import TensorImageDataset
from cnnlab.data.image import (
    IMAGE_SUFFIXES,
    MAX_IMAGE_BYTES,
    check_pixels,
    decode_native,
    resize,
    to_channels,
)
from cnnlab.errors import DataError
from cnnlab.fileio import read_regular

CLASSES_FILE = "classes.txt"
MAX_CLASSES_BYTES = 1 << 20
MASK_MODES = ("P", "L")
LAYOUT = "root/images/<stem>.<ext>, root/masks/<stem>.png and root/classes.txt"


def load_segfolder(
    data_dir: str | os.PathLike | None, *, image_size: int | None = None
) -> TensorImageDataset:
    """Every image/mask pair under ``data_dir`` (a folder or archive, see the module docstring)."""
    if data_dir is None:
        raise DataError(f"segfolder needs data_dir: a folder or .tar/.tar.gz of {LAYOUT}.")
    source = Path(data_dir).expanduser()
    if not source.exists():
        raise DataError(f"segfolder: {source} does not exist.")
    root = _root(extract(source) if is_archive(source) else source)
    classes = read_classes(root / CLASSES_FILE)
    pairs = _pairs(root)
    images = [
        decode_native(read_regular(i, limit=MAX_IMAGE_BYTES, what="Image"), i) for i, _ in pairs
    ]
    channels = 1 if all(image.shape[0] in (1, 2) for image in images) else 3
    images = [to_channels(image, channels) for image in images]
    masks = [
        read_mask(mask, image.shape[-2:], classes)
        for (_, mask), image in zip(pairs, images, strict=True)
    ]
    if image_size is not None:
        size = [image_size, image_size]
        images = [resize(image, tuple(size)) for image in images]
        masks = [TF.resize(m[None], size, TF.InterpolationMode.NEAREST_EXACT)[0] for m in masks]
    sizes = {tuple(image.shape[-2:]) for image in images}
    if len(sizes) > 1:
        raise DataError(
            f"segfolder {source}: the images have {len(sizes)} different sizes "
            f"({', '.join(f'{h}x{w}' for h, w in sorted(sizes)[:4])}); resize the pairs to one "
            "size, or pass image_size to load_data to resize them to a square."
        )
    return TensorImageDataset(torch.stack(images), torch.stack(masks), classes)


def read_classes(path: Path) -> list[str]:
    """The class names of ``classes.txt``, one per line (blank lines at the end ignored)."""
    if not path.is_file():
        raise DataError(
            f"segfolder: {path} is missing. Write one class name per line, the name of mask "
            f"value 0 first (usually 'background'); the layout is {LAYOUT}."
        )
    text = read_regular(path, limit=MAX_CLASSES_BYTES, what="Class list")
    try:
        names = [line.strip() for line in text.decode("utf-8").rstrip().splitlines()]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text: {exc}.") from exc
    if len(names) < 2 or "" in names or len(set(names)) != len(names):
        raise DataError(
            f"{path} must name at least 2 distinct classes, one per line with no blank lines "
            f"between them; got {names[:10]}."
        )
    return names


def read_mask(path: Path, size: tuple[int, int], classes: list[str]) -> torch.Tensor:
    """The int64 ``(H, W)`` class numbers of the index PNG ``path``, checked against its image."""
    data = read_regular(path, limit=MAX_IMAGE_BYTES, what="Mask")
    check_pixels(data, path)
    try:
        with Image.open(io.BytesIO(data)) as pil:
            if pil.format != "PNG" or pil.mode not in MASK_MODES:
                raise DataError(
                    f"Mask {path} is a {pil.format} image of mode {pil.mode}; masks must be index "
                    "PNGs: palette (mode P) or greyscale (mode L) whose pixel values are the "
                    "class numbers of classes.txt. Save it with Image.fromarray(labels.astype"
                    "('uint8')).save(path)."
                )
            mask = torch.from_numpy(np.asarray(pil).astype(np.int64))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"Cannot decode mask {path}: {exc}. Expected an index PNG.") from exc
    if tuple(mask.shape) != tuple(size):
        raise DataError(
            f"Mask {path} is {mask.shape[1]}x{mask.shape[0]} (W x H) but its image is "
            f"{size[1]}x{size[0]}; a mask needs one class number per image pixel. "
            "Resize the mask with nearest-neighbour interpolation or fix the pair."
        )
    num_classes = len(classes)
    outside = sorted(set(mask.unique().tolist()) - set(range(num_classes)))
    if outside:
        raise DataError(
            f"Mask {path} holds the values {outside[:10]}, outside the {num_classes} classes of "
            f"classes.txt (0 = {classes[0]!r} ... {num_classes - 1} = {classes[-1]!r}). Add "
            "their names to classes.txt, or map them to a listed class."
        )
    return mask


def _root(folder: Path) -> Path:
    """``folder`` or the single folder it wraps, whichever holds ``images/``."""
    if (folder / "images").is_dir():
        return folder
    entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and (entries[0] / "images").is_dir():
        return entries[0]
    raise DataError(f"segfolder: {folder} has no images/ folder; the layout is {LAYOUT}.")


def _pairs(root: Path) -> list[tuple[Path, Path]]:
    """``(image, mask)`` paths matched by stem, sorted; unmatched files are an error."""
    images = _by_stem(root / "images", IMAGE_SUFFIXES)
    masks = _by_stem(root / "masks", (".png",))
    unmatched = [
        f"{what} without {other}: {', '.join(sorted(stems)[:5])}"
        + (f" and {len(stems) - 5} more" if len(stems) > 5 else "")
        for what, other, stems in (
            ("images", "a mask in masks/", images.keys() - masks.keys()),
            ("masks", "an image in images/", masks.keys() - images.keys()),
        )
        if stems
    ]
    if unmatched:
        raise DataError(
            f"segfolder {root}: every image needs a mask of the same stem and vice versa; "
            f"{'; '.join(unmatched)}."
        )
    if not images:
        raise DataError(f"segfolder: {root / 'images'} holds no images ({LAYOUT}).")
    return [(images[stem], masks[stem]) for stem in sorted(images)]


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"segfolder: {folder} is missing; the layout is {LAYOUT}.")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in suffixes:
            continue
        if path.stem in found:
            raise DataError(
                f"segfolder: {found[path.stem].name} and {path.name} in {folder} share a stem; "
                "keep one file per stem."
            )
        found[path.stem] = path
    return found
