"""Image-folder data sets: ``root/<class>/**/<image>``, as a folder or a tar archive.

Layout (as ``torchvision.datasets.ImageFolder``): one sub-folder per class,
class indices in sorted folder-name order, images (``.png .jpg .jpeg .bmp .gif
.webp``) anywhere below their class folder, hidden files ignored.  Single-folder
wrappers such as ``train/<class>/...`` are descended through.  Archives
(``.tar``, ``.tar.gz``, ``.tgz``) are first extracted safely into the cache
(`cnnlab.data.archive`).

Up to `MAX_IN_MEMORY_IMAGES` images and `MAX_IN_MEMORY_BYTES` of
uint8 pixels are decoded once (in a thread pool) into a
`TensorImageDataset`, which is cached as
``<cache>/decoded/<key>.safetensors`` keyed by the archive's SHA-256 or by the
folder's file names, sizes and modification times; larger data sets are
streamed from disk as a `FolderImageDataset`.

Image size: ``image_size`` (square) if given; otherwise every image must have the
same size (in memory) or the first image's size is used (streaming).  Channels:
grey (1) if every image is grey, else RGB (3); streamed data sets take the first
image's mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from cnnlab.data.archive import extract, is_archive
from cnnlab.data.datasets import FolderImageDataset, TensorImageDataset
from cnnlab.data.image import (
    IMAGE_SUFFIXES,
    MAX_IMAGE_BYTES,
    decode_native,
    resize,
    to_channels,
)
from cnnlab.data.paths import cache_root
from cnnlab.errors import DataError, DiskWriteError
from cnnlab.fileio import atomic_path, read_regular, sha256_file

MAX_IN_MEMORY_IMAGES = 200_000
MAX_IN_MEMORY_BYTES = 2 * 1024**3
_CACHE_VERSION = "1"
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def load_imagefolder(
    data_dir: str | os.PathLike | None, *, image_size: int | None = None
) -> TensorImageDataset | FolderImageDataset:
    """All images under ``data_dir`` (a folder or archive), labelled by class folder."""
    if data_dir is None:
        raise DataError(
            "imagefolder needs data_dir: a folder of class sub-folders "
            "(root/<class>/<image>) or a .tar/.tar.gz/.tgz archive of one."
        )
    source = Path(data_dir).expanduser()
    if not source.exists():
        raise DataError(f"imagefolder: {source} does not exist.")
    if not is_archive(source):
        return _load_folder(source, image_size, None)
    digest = sha256_file(source)
    cache = _cache_file(digest, image_size)
    if cache.is_file() and (cached := _load_cache(cache)) is not None:
        return cached
    extracted = extract(source, digest=digest)
    try:
        return _load_folder(extracted, image_size, cache)
    except DataError:  # a rejected archive leaves nothing in the cache (it may be a zip bomb)
        shutil.rmtree(extracted, ignore_errors=True)
        raise


def _load_folder(
    source: Path, image_size: int | None, cache: Path | None
) -> TensorImageDataset | FolderImageDataset:
    """The images under ``source``; ``cache`` is the decoded cache file (None: by fingerprint)."""
    classes, paths, labels = scan(_dataset_root(source))
    if cache is None:
        cache = _cache_file(_fingerprint(paths), image_size)
        if cache.is_file() and (cached := _load_cache(cache)) is not None:
            return cached
    size = (image_size, image_size) if image_size else _header(paths[0])[0]
    if not fits_in_memory(len(paths), size):
        channels = 1 if _header(paths[0])[1] in _GREY_MODES else 3
        return FolderImageDataset(paths, labels, classes, size=size, channels=channels)
    dataset = decode_all(paths, labels, classes, image_size)
    _save_cache(cache, dataset)
    return dataset


def fits_in_memory(count: int, size: tuple[int, int]) -> bool:
    """Whether ``count`` RGB images of ``size`` are within the in-memory limits."""
    return count <= MAX_IN_MEMORY_IMAGES and count * 3 * size[0] * size[1] <= MAX_IN_MEMORY_BYTES


def _dataset_root(root: Path) -> Path:
    """Descend through folders whose only entry is one folder without images of its own."""
    while True:
        entries = _visible(root)
        if len(entries) != 1 or not entries[0].is_dir() or _has_images(entries[0]):
            return root
        root = entries[0]


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX")))


def _has_images(folder: Path) -> bool:
    return any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in _visible(folder))


def scan(root: Path) -> tuple[list[str], list[Path], torch.Tensor]:
    """Classes (sorted folder names), image paths and labels under ``root``."""
    class_dirs = [p for p in _visible(root) if p.is_dir()]
    if not class_dirs:
        raise DataError(
            f"imagefolder: {root} has no class sub-folders; expected "
            "root/<class>/<image> (e.g. root/cat/001.jpg)."
        )
    paths: list[Path] = []
    labels: list[int] = []
    for index, folder in enumerate(class_dirs):
        files = sorted(
            Path(dirpath) / f
            for dirpath, dirnames, filenames in os.walk(folder)
            for f in filenames
            if not f.startswith(".")
            and os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES
            and (Path(dirpath) / f).is_file()  # no FIFO, socket or device: reading one blocks
            and not any(part.startswith(".") for part in Path(dirpath).relative_to(folder).parts)
        )
        if not files:
            raise DataError(
                f"imagefolder: class folder {folder} contains no images "
                f"({', '.join(IMAGE_SUFFIXES)})."
            )
        paths += files
        labels += [index] * len(files)
    return [p.name for p in class_dirs], paths, torch.tensor(labels, dtype=torch.int64)


def _header(path: Path) -> tuple[tuple[int, int], str]:
    """``((H, W), PIL mode)`` of an image, read from its header only."""
    try:
        with Image.open(path) as image:
            return (image.height, image.width), image.mode
    except OSError as exc:
        raise DataError(f"Cannot read image {path}: {exc}.") from exc


def decode_all(
    paths: list[Path], labels: torch.Tensor, classes: list[str], image_size: int | None
) -> TensorImageDataset:
    """Decode every image (thread pool) into one uint8 ``(N, C, H, W)`` tensor."""
    chunks = [paths[i : i + 512] for i in range(0, len(paths), 512)]
    images: list[torch.Tensor] = []
    bar = tqdm(total=len(paths), desc="decoding images", unit="img", leave=False, disable=None)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool, bar:
        for chunk in pool.map(_decode_chunk, chunks):
            images += chunk
            bar.update(len(chunk))
    channels = 1 if all(img.shape[0] in (1, 2) for img in images) else 3
    if image_size:
        size = (image_size, image_size)
    else:
        sizes = Counter(tuple(img.shape[1:]) for img in images)
        if len(sizes) > 1:
            found = ", ".join(f"{h}x{w} ({n} images)" for (h, w), n in sizes.most_common(5))
            raise DataError(
                f"imagefolder: images have different sizes ({found}). Resize them to one "
                "size first, or load them with load_data('imagefolder', DIR, image_size=N), "
                "which resizes each to N x N (cnnlab train has no such flag yet)."
            )
        size = next(iter(sizes))
    stacked = torch.stack([resize(to_channels(img, channels), size) for img in images])
    return TensorImageDataset(stacked, labels, classes)


def _decode_chunk(paths: list[Path]) -> list[torch.Tensor]:
    out = []
    for path in paths:
        out.append(decode_native(read_regular(path, limit=MAX_IMAGE_BYTES, what="Image"), path))
    return out


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _cache_file(key: str, image_size: int | None) -> Path:
    name = hashlib.sha256(f"{_CACHE_VERSION}:{key}:{image_size}".encode()).hexdigest()[:32]
    return cache_root() / "decoded" / f"{name}.safetensors"


def _save_cache(path: Path, dataset: TensorImageDataset) -> None:
    """Write the decoded cache, or skip it when it cannot be written (a full or read-only disk)."""
    try:
        with atomic_path(path) as tmp:
            save_file(
                {"images": dataset.images.contiguous(), "labels": dataset.labels},
                tmp,
                metadata={"classes": json.dumps(dataset.classes)},
            )
    except (DiskWriteError, SafetensorError) as exc:  # safetensors reports ENOSPC as its own
        warnings.warn(f"Decoded images not cached: {exc}", stacklevel=2)


def _load_cache(path: Path) -> TensorImageDataset | None:
    """The cached data set, or None (the file removed) when it is damaged: it is then rebuilt."""
    try:
        with safe_open(path, framework="pt") as f:
            classes = json.loads(f.metadata()["classes"])
            dataset = TensorImageDataset(f.get_tensor("images"), f.get_tensor("labels"), classes)
    except Exception as exc:  # safetensors, JSON and shape errors alike: the cache is only a cache
        message = f"Damaged cache {path} ({exc}) removed; decoding the images again."
        warnings.warn(message, stacklevel=2)
        path.unlink(missing_ok=True)
        return None
    return dataset
