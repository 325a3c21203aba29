"""IDX files (MNIST, Fashion-MNIST, KMNIST), raw or gzip-compressed.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
``0x00 0x00 <dtype code> <number of dimensions>``, then one big-endian uint32
per dimension, then the data in C order, big-endian.  Dtype codes: 0x08 uint8,
0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.

Why not ``torchvision.datasets.MNIST``/``FashionMNIST``/``KMNIST`` (0.29):
they read only the uncompressed files under ``root/<Class>/raw/`` (their
download step decompresses them there), so the ``.gz`` files as distributed,
in any folder, would have to be copied and inflated first; and their reader
(``read_sn3_pascalvincent_tensor``) reads the whole file into memory and
checks the header against the data only with ``assert`` (off under ``python
-O``; ``strict=False`` for images and labels), so a corrupt or hostile file
gives a bare AssertionError or RuntimeError instead of a `DataError`, and a
gzip bomb has no bound.  This reader inflates at most the size the header
declares.  tests/data/test_torchvision_readers.py checks that both give the
same arrays on the Fashion-MNIST files.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

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


MAX_IDX_BYTES = 4 << 30
"""The largest IDX data a reader accepts (4 GiB; MNIST's training images are 47 MB).

A header declaring more is refused before anything is allocated; raise it with
``cnnlab.data.idx.MAX_IDX_BYTES = ...`` for a larger set."""


def _header(head: bytes, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """The dtype, shape and data size in bytes declared by the first ``4 + 4 * ndim`` bytes.

    The size is a product of Python integers (no wrap-around) and must not exceed
    `MAX_IDX_BYTES`.
    """
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES:
        raise DataError(
            f"{name} is not an IDX file: bad magic number {head[:4].hex() or '(empty)'}"
            " (expected 0000 followed by a dtype code and a dimension count)."
        )
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        raise DataError(
            f"{name} is truncated: the header needs {4 + 4 * ndim} bytes, got {len(head)}."
        )
    shape = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    dtype = np.dtype(_DTYPES[head[2]])
    size = dtype.itemsize * math.prod(shape)
    if size > MAX_IDX_BYTES:
        raise DataError(
            f"{name} declares {shape} elements of {dtype.itemsize} bytes ({size} bytes), over "
            f"the limit of {MAX_IDX_BYTES} bytes (cnnlab.data.idx.MAX_IDX_BYTES); the header "
            "is corrupt, or raise the limit for a data set this large."
        )
    return dtype, shape, size


def _array(
    body: bytes, dtype: np.dtype, shape: tuple[int, ...], size: int, name: str
) -> np.ndarray:
    if len(body) != size:
        found = f"{len(body)} data bytes" if len(body) < size else "more data"
        raise DataError(
            f"{name} holds {found} but its header {shape} implies {size}: "
            "the file is truncated or corrupt; delete it and download it again."
        )
    array = np.frombuffer(body, dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of one IDX file into an array (native byte order)."""
    ndim = data[3] if len(data) >= 4 else 0
    dtype, shape, size = _header(data[: 4 + 4 * ndim], name)
    return _array(data[4 + 4 * ndim :], dtype, shape, size, name)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file; a ``.gz`` suffix means gzip-compressed.

    The header is read first and only the data size it declares is read (or
    decompressed) after it, plus one byte to detect trailing data, so a gzip
    bomb or a corrupt header never allocates more than the declared size.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4)
            head += fh.read(4 * head[3]) if len(head) == 4 else b""
            dtype, shape, size = _header(head, str(path))
            body = _read_at_most(fh, size + 1)
    # TypeError: Python's gzip reader on a gzip header cut short (ord() of b"")
    except (OSError, EOFError, zlib.error, TypeError) as exc:
        raise DataError(f"Cannot read {path}: {exc}. Delete it and download it again.") from exc
    return _array(body, dtype, shape, size, str(path))


def _read_at_most(fh: BinaryIO, count: int) -> bytes:
    """Up to ``count`` bytes of ``fh``, read in 1 MiB chunks so memory follows the data.

    ``GzipFile.read(n)`` allocates ``n`` bytes at once: a header declaring 4 GiB
    would cost 4 GiB even when the stream holds a few bytes.
    """
    data = bytearray()
    while len(data) < count:
        chunk = fh.read(min(count - len(data), 1 << 20))
        if not chunk:
            break
        data += chunk
    return bytes(data)


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
