"""CIFAR-10 and CIFAR-100 from the official "python version" pickles.

Files (Krizhevsky, 2009, https://www.cs.toronto.edu/~kriz/cifar.html), either in
the extracted folder or inside the official ``.tar.gz``:

- CIFAR-10, ``cifar-10-batches-py/``: ``data_batch_1`` .. ``data_batch_5``,
  ``test_batch`` (dicts with ``b"data"``: uint8 ``(10000, 3072)``, channel-major
  32x32 RGB, and ``b"labels"``), ``batches.meta`` (``b"label_names"``).
- CIFAR-100, ``cifar-100-python/``: ``train``, ``test`` (``b"data"``,
  ``b"fine_labels"``), ``meta`` (``b"fine_label_names"``).

The pickles are read with `SafeUnpickler`, which can rebuild plain
containers and numpy arrays but refuses every other class, so a tampered file
cannot run code.

Why not ``torchvision.datasets.CIFAR10``/``CIFAR100`` (0.29): they call
``pickle.load`` on the batches, which runs whatever a pickle asks for; their
guard is the MD5 of each official file, so they load only those exact files
(any other copy is "corrupted"), only from the extracted folder (not the
``.tar.gz`` in place), and without a bound on what a batch may allocate.
This reader takes the archive or the folder, bounds every file
(``MAX_FILE_BYTES``) and every batch's shape before building arrays.
tests/data/test_torchvision_readers.py checks that both give the same arrays
on batches in the official format.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab.data.datasets import TensorImageDataset
from cnnlab.data.download import fetch, how_to_get
from cnnlab.data.paths import search_dirs
from cnnlab.errors import DataError
from cnnlab.fileio import read_regular

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct


def _latin1_encode(text: str, encoding: str) -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes, latin-1 only."""
    if encoding != "latin1" or not isinstance(text, str):
        raise DataError(f"Refusing to unpickle _codecs.encode with encoding {encoding!r}.")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that only resolves numpy's array reconstruction and latin-1 bytes."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"Refusing to unpickle {module}.{name}: CIFAR files contain only "
                "dicts, lists, bytes and numpy arrays. The file is not an "
                "official CIFAR batch."
            ) from None


def safe_load(data: bytes, name: str = "<bytes>") -> Any:
    """Unpickle ``data`` (Python 2 pickles: ``encoding="bytes"``) with `SafeUnpickler`."""
    try:
        return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DataError:
        raise
    except Exception as exc:  # truncated or corrupt pickle: many exception types
        raise DataError(f"Cannot read {name}: {exc!r}. Delete it and download it again.") from exc


MAX_FILE_BYTES = 1 << 30
"""The largest CIFAR file read (1 GiB; CIFAR-100's ``train`` is 155 MB); raise it if need be."""


@dataclass(frozen=True)
class _Layout:
    folder: str
    archive: str
    train: tuple[str, ...]
    test: str
    meta: str
    label_key: bytes
    names_key: bytes


LAYOUTS = {
    "cifar10": _Layout(
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_batch",
        "batches.meta",
        b"labels",
        b"label_names",
    ),
    "cifar100": _Layout(
        "cifar-100-python",
        "cifar-100-python.tar.gz",
        ("train",),
        "test",
        "meta",
        b"fine_labels",
        b"fine_label_names",
    ),
}


def _read_files(name: str, layout: _Layout, dirs: list[Path], download: bool) -> dict[str, bytes]:
    wanted = [*layout.train, layout.test, layout.meta]
    for folder in dirs:
        for candidate in (folder / layout.folder, folder):
            if all((candidate / f).is_file() for f in wanted):
                return {f: read_regular(candidate / f, limit=MAX_FILE_BYTES) for f in wanted}
        if (folder / layout.archive).is_file():
            return _read_archive(folder / layout.archive, layout, wanted)
    if download:
        return _read_archive(fetch(name, layout.archive, dirs[0]), layout, wanted)
    raise DataError(
        f"{name}: found neither {layout.archive} nor a {layout.folder}/ folder with "
        f"{', '.join(wanted)} in {' or '.join(map(str, dirs))}. {how_to_get(name)}"
    )


def _read_archive(path: Path, layout: _Layout, wanted: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted:
                    if member.size > MAX_FILE_BYTES:
                        raise DataError(_too_large(f"{path}: member {member.name}", member.size))
                    found[base] = tar.extractfile(member).read()
    # TypeError: Python's tarfile on a gzip header cut short (ord() of b"")
    except (tarfile.TarError, OSError, EOFError, TypeError) as exc:
        raise DataError(f"Cannot read {path}: {exc}. Delete it and download it again.") from exc
    missing = [f for f in wanted if f not in found]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}; it is not the official archive.")
    return found


def _too_large(name: str, size: int) -> str:
    return (
        f"{name} is {size} bytes, over the limit of {MAX_FILE_BYTES} bytes for one CIFAR file "
        "(cnnlab.data.cifar.MAX_FILE_BYTES); it is not an official CIFAR file."
    )


def _batch(data: bytes, name: str, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of one batch, checked before any array is built from them.

    The unpickler can rebuild nested lists that share their items, so a few
    hundred bytes can describe 10^10 elements: only a uint8 array of 3072-byte
    rows and a flat list (or integer array) of as many labels are accepted.
    """
    batch = safe_load(data, name)
    images = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(label_key) if isinstance(batch, dict) else None
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 2):
        raise DataError(f"{name} is not a CIFAR batch: b'data' must be a uint8 (N, 3072) array.")
    if images.shape[1] != 3 * 32 * 32:
        raise DataError(f"{name} holds rows of {images.shape[1]} bytes, expected 3072 (3x32x32).")
    flat = isinstance(labels, list) or (isinstance(labels, np.ndarray) and labels.ndim == 1)
    if not flat:
        raise DataError(f"{name} is not a CIFAR batch: {label_key!r} must be a list of integers.")
    if len(labels) != len(images):
        raise DataError(f"{name} has {len(images)} images but {len(labels)} labels.")
    if not all(isinstance(v, (int, np.integer)) for v in labels):
        raise DataError(f"{name} is not a CIFAR batch: {label_key!r} must be a list of integers.")
    return images.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def _class_names(meta: Any, layout: _Layout) -> list[str]:
    names = meta.get(layout.names_key) if isinstance(meta, dict) else None
    if not (isinstance(names, list) and all(isinstance(n, (bytes, str)) for n in names)):
        raise DataError(f"{layout.meta} has no {layout.names_key!r} list of names.")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def _dataset(parts: list[tuple[np.ndarray, np.ndarray]], classes: list[str]) -> TensorImageDataset:
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DataError(f"CIFAR labels outside 0..{len(classes) - 1}.")
    return TensorImageDataset(torch.from_numpy(images), torch.from_numpy(labels), classes)


def load_cifar(
    name: str, data_dir: str | os.PathLike | None, *, download: bool = False
) -> tuple[TensorImageDataset, TensorImageDataset]:
    """The official (train, test) sets of ``name`` (cifar10 or cifar100)."""
    layout = LAYOUTS[name]
    files = _read_files(name, layout, search_dirs(name, data_dir), download)
    classes = _class_names(safe_load(files[layout.meta], layout.meta), layout)
    train = _dataset([_batch(files[f], f, layout.label_key) for f in layout.train], classes)
    test = _dataset([_batch(files[layout.test], layout.test, layout.label_key)], classes)
    return train, test
