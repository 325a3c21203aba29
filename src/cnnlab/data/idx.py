"""IDX files (MNIST, Fashion-MNIST, KMNIST), raw or gzip-compressed.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
``0x00 0x00 <dtype code> <number of dimensions>``, then one big-endian uint32
per dimension, then the data in C order, big-endian.  Dtype codes: 0x08 uint8,
0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from cnnlab.data.datasets import TensorImageDataset
from cnnlab.data.download import fetch, how_to_get
from cnnlab.data.paths import search_dirs
from cnnlab.errors import DataError

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
}


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of one IDX file into an array (native byte order)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(
            f"{name} is not an IDX file: bad magic number {data[:4].hex() or '(empty)'}"
            " (expected 0000 followed by a dtype code and a dimension count)."
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name} is truncated: the header needs {header} bytes, got {len(data)}.")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = header + dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise DataError(
            f"{name} has {len(data)} bytes but its header {shape} implies {expected}: "
            "the file is truncated or corrupt; delete it and download it again."
        )
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file; a ``.gz`` suffix means gzip-compressed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"Cannot read {path}: {exc}. Delete it and download it again.") from exc
    return parse_idx(data, str(path))


def _find(stem: str, dirs: list[Path]) -> Path | None:
    for folder in dirs:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _read_pair(images_path: Path, labels_path: Path, classes: list[str]) -> TensorImageDataset:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{images_path} must hold uint8 images (N, H, W), got {images.dtype} {images.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{labels_path} holds {labels.shape} labels for {len(images)} images "
            f"in {images_path}; the two files do not belong together."
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DataError(f"{labels_path} has labels outside 0..{len(classes) - 1}.")
    return TensorImageDataset(
        torch.from_numpy(images.copy()).unsqueeze(1),
        torch.from_numpy(labels.astype(np.int64)),
        classes,
    )


def load_idx_dataset(
    name: str, data_dir: str | os.PathLike | None, *, download: bool = False
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """The official (train, test) sets of ``name`` (mnist, fashion-mnist or kmnist)."""
    dirs = search_dirs(name, data_dir)
    stems = [stem for pair in SPLIT_FILES.values() for stem in pair]
    missing = [stem for stem in stems if _find(stem, dirs) is None]
    if missing and download:
        for stem in missing:
            fetch(name, f"{stem}.gz", dirs[0])
        missing = []
    if missing:
        raise DataError(
            f"{name}: missing {', '.join(missing)} (raw or .gz) in "
            f"{' or '.join(map(str, dirs))}. {how_to_get(name)}"
        )
    train, test = (
        _read_pair(_find(i, dirs), _find(lb, dirs), CLASSES[name]) for i, lb in SPLIT_FILES.values()
    )
    return train, test
