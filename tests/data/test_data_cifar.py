import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from cnnlab.data import load_data
from cnnlab.data.cifar import safe_load
from cnnlab.errors import DataError

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def batch(n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return {b"batch_label": b"synthetic", b"data": data, b"labels": [i % 10 for i in range(n)]}


def write_cifar10(folder, n=20):
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch(n, i), protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(batch(n, 0), protocol=2))
    meta = {b"label_names": [c.encode() for c in CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def test_protocol_2_batch_is_read_with_bytes_keys():
    loaded = safe_load(pickle.dumps(batch(4, 0), protocol=2))
    np.testing.assert_array_equal(loaded[b"data"], batch(4, 0)[b"data"])
    assert loaded[b"labels"] == [0, 1, 2, 3]


class Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


def test_pickle_calling_os_system_is_refused(tmp_path):
    payload = pickle.dumps({b"data": Exploit(tmp_path / "pwned")}, protocol=2)
    with pytest.raises(DataError, match="Refusing to unpickle"):
        safe_load(payload)
    assert not (tmp_path / "pwned").exists()


def test_truncated_pickle_is_a_data_error():
    with pytest.raises(DataError, match="Cannot read"):
        safe_load(pickle.dumps(batch(4, 0), protocol=2)[:-100])


def test_cifar10_folder_loads_images_channel_major(tmp_path):
    folder = write_cifar10(tmp_path / "cifar-10-batches-py")
    splits = load_data("cifar10", tmp_path, val_fraction=0.1)
    assert splits.classes == CLASSES
    assert (len(splits.train) + len(splits.val), len(splits.test)) == (100, 20)
    first = batch(20, 0)[b"data"][0].reshape(3, 32, 32)
    assert torch.equal(splits.test.images[0], torch.from_numpy(first))
    assert folder.is_dir()


def test_cifar10_official_archive_is_read_without_extracting(tmp_path):
    write_cifar10(tmp_path / "src" / "cifar-10-batches-py")
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    splits = load_data("cifar10", tmp_path)
    assert len(splits.test) == 20 and splits.input_shape == (3, 32, 32)


def test_cifar100_uses_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 200), ("test", 100)):
        data = batch(n, 0)
        record = {
            b"data": data[b"data"],
            b"fine_labels": list(range(100)) * (n // 100),
            b"coarse_labels": [0] * n,
        }
        (folder / name).write_bytes(pickle.dumps(record, protocol=2))
    names = [f"class{i}".encode() for i in range(100)]
    (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": names}, protocol=2))
    splits = load_data("cifar100", tmp_path, val_fraction=0.5)
    assert len(splits.classes) == 100 and splits.classes[99] == "class99"
    assert torch.bincount(splits.test.labels).tolist() == [1] * 100


def test_missing_cifar_names_archive_and_url(tmp_path):
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz.*toronto"):
        load_data("cifar10", tmp_path)
