"""Download the official data set files and verify their MD5 checksums.

Mirrors and checksums are those torchvision uses (``torchvision.datasets.MNIST``,
``FashionMNIST``, ``KMNIST``, ``CIFAR10``, ``CIFAR100``).  Setting the environment
variable ``CNNLAB_MIRROR`` to a base URL replaces the official mirrors: file
``f`` is then fetched from ``$CNNLAB_MIRROR/f``.  A file is written atomically
and only after its checksum matched, so a failed download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from cnnlab.errors import DataError
from cnnlab.fileio import atomic_path

MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "kmnist": ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
    "cifar10": ["https://www.cs.toronto.edu/~kriz/"],
    "cifar100": ["https://www.cs.toronto.edu/~kriz/"],
}

RESOURCES: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "kmnist": {
        "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
    },
    "cifar10": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
    "cifar100": {"cifar-100-python.tar.gz": "eb9058c3a382ffc7106e4002c42a8d85"},
}


def mirrors(name: str) -> list[str]:
    """Base URLs tried in order for data set ``name`` (``$CNNLAB_MIRROR`` replaces them)."""
    override = os.environ.get("CNNLAB_MIRROR")
    return [override] if override else MIRRORS[name]


def how_to_get(name: str) -> str:
    """One sentence telling the user where the files of ``name`` come from."""
    urls = ", ".join(mirrors(name)[0].rstrip("/") + "/" + f for f in RESOURCES[name])
    return (
        f"Download them with `cnnlab ... --download` (load_data(..., download=True)) "
        f"or by hand from {urls}."
    )


def fetch(name: str, filename: str, dest_dir: Path, *, timeout: float = 60.0) -> Path:
    """Download ``filename`` of data set ``name`` into ``dest_dir`` and verify its MD5."""
    expected = RESOURCES[name][filename]
    errors = []
    for base in mirrors(name):
        url = base.rstrip("/") + "/" + filename
        try:
            with atomic_path(dest_dir / filename) as tmp:
                digest = _stream(url, tmp, timeout)
                if digest != expected:
                    raise DataError(f"checksum mismatch: MD5 {digest}, expected {expected}")
            return dest_dir / filename
        except (OSError, DataError) as exc:
            errors.append(f"{url}: {exc}")
    raise DataError(
        f"Could not download {filename} for {name} ({'; '.join(errors)}). "
        "Nothing was kept. Check the network connection, or set CNNLAB_MIRROR "
        "to the base URL of a mirror that has the file."
    )


def _stream(url: str, dest: Path, timeout: float) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            md5.update(chunk)
            out.write(chunk)
    return md5.hexdigest()
