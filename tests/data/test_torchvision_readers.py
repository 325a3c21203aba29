"""cnnlab's IDX and CIFAR readers give the arrays torchvision.datasets gives on the same files.

cnnlab keeps its own readers (src/cnnlab/data/idx.py and cifar.py say why);
this is the oracle that they read the formats as torchvision does.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
import struct
from typing import ClassVar

import numpy as np
import pytest
import torch
import torchvision
from tests.conftest import shared_dataset

from cnnlab.data.cifar import load_cifar
from cnnlab.data.idx import SPLIT_FILES, load_idx_dataset


def test_fashion_mnist_equals_torchvisions_reader(tmp_path):
    source = shared_dataset("fashion-mnist")
    raw = tmp_path / "FashionMNIST" / "raw"  # torchvision reads the uncompressed files here
    raw.mkdir(parents=True)
    for stem in (stem for pair in SPLIT_FILES.values() for stem in pair):
        with gzip.open(source / f"{stem}.gz", "rb") as packed, open(raw / stem, "wb") as out:
            shutil.copyfileobj(packed, out)
    ours = dict(zip(("train", "test"), load_idx_dataset("fashion-mnist", source), strict=True))
    for split, train in (("train", True), ("test", False)):
        theirs = torchvision.datasets.FashionMNIST(tmp_path, train=train, download=False)
        assert torch.equal(ours[split].images[:, 0], theirs.data)
        assert torch.equal(ours[split].labels, theirs.targets)
        assert ours[split].classes == theirs.classes


class _Python2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` (BINSTRING), as the official CIFAR pickles do:
    cnnlab reads them back as bytes, torchvision (``encoding='latin1'``) as str."""

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch: ClassVar[dict] = {**pickle._Pickler.dispatch, bytes: save_bytes}


def _python2_pickle(obj) -> bytes:
    out = pickle.io.BytesIO()
    _Python2Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


class _UncheckedCIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR-10 reader without its check that the files are the official
    ones (MD5), so that it reads the small batches written here."""

    def _check_integrity(self) -> bool:
        return True

    def _load_meta(self) -> None:
        self.meta = {**self.meta, "md5": None}
        super()._load_meta()


def test_cifar10_batches_equal_torchvisions_reader(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship"]
    names.append("truck")
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (12, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, 12).tolist(),
        }
        (folder / name).write_bytes(_python2_pickle(batch))
    meta = {b"label_names": [n.encode() for n in names], b"num_cases_per_batch": 12}
    (folder / "batches.meta").write_bytes(_python2_pickle(meta))
    ours = dict(zip(("train", "test"), load_cifar("cifar10", tmp_path), strict=True))
    for split, train in (("train", True), ("test", False)):
        theirs = _UncheckedCIFAR10(tmp_path, train=train, download=False)
        hwc = ours[split].images.permute(0, 2, 3, 1).numpy()  # torchvision keeps N, H, W, C
        np.testing.assert_array_equal(hwc, theirs.data)
        assert ours[split].labels.tolist() == theirs.targets
        assert ours[split].classes == theirs.classes == names


@pytest.mark.parametrize("name", ["mnist", "kmnist"])
def test_the_other_idx_data_sets_share_fashion_mnists_file_names(name):
    """torchvision's MNIST family reads the same four files cnnlab looks for."""
    cls = {"mnist": torchvision.datasets.MNIST, "kmnist": torchvision.datasets.KMNIST}[name]
    theirs = {url.rsplit("/", 1)[-1].removesuffix(".gz") for url, _ in cls.resources}
    assert theirs == {stem for pair in SPLIT_FILES.values() for stem in pair}
