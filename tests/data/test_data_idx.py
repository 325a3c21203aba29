import gzip

import numpy as np
import pytest

from cnnlab.data import load_data
from cnnlab.data.idx import parse_idx, read_idx
from cnnlab.errors import DataError


def write_mnist_like(idx_bytes, folder, n_train=50, n_test=20, gz=True):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for stem, array in (
            (f"{prefix}-images-idx3-ubyte", images),
            (f"{prefix}-labels-idx1-ubyte", labels),
        ):
            data = idx_bytes(array)
            name = f"{stem}.gz" if gz else stem
            (folder / name).write_bytes(gzip.compress(data) if gz else data)
    return folder


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32])
def test_parse_idx_round_trips_every_dtype_and_shape(dtype, idx_bytes):
    offset = 0 if dtype is np.uint8 else 300  # negative and multi-byte values
    array = (np.arange(24) * 25 - offset).astype(dtype).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(array))
    assert parsed.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(parsed, array)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_reads_raw_and_gzip_files(tmp_path, gz, idx_bytes):
    array = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / ("a.gz" if gz else "a")
    path.write_bytes(gzip.compress(idx_bytes(array)) if gz else idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path), array)


def test_bad_magic_is_a_data_error(idx_bytes):
    data = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    data[0] = 0x1F
    with pytest.raises(DataError, match="magic"):
        parse_idx(bytes(data))


def test_truncated_file_is_a_data_error(tmp_path, idx_bytes):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)


def test_truncated_gzip_is_a_data_error(tmp_path, idx_bytes):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((4, 28, 28), np.uint8)))[:-30])
    with pytest.raises(DataError, match=str(path)):
        read_idx(path)


def test_mnist_loads_raw_files_from_data_dir_subfolder(tmp_path, idx_bytes):
    write_mnist_like(idx_bytes, tmp_path / "mnist", gz=False)
    splits = load_data("mnist", tmp_path, val_fraction=0.2)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (40, 10, 20)
    assert splits.input_shape == (1, 28, 28)
    assert splits.classes == [str(d) for d in range(10)]


def test_image_and_label_count_mismatch_is_a_data_error(tmp_path, idx_bytes):
    folder = write_mnist_like(idx_bytes, tmp_path)
    labels = (np.arange(7) % 10).astype(np.uint8)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DataError, match="do not belong together"):
        load_data("kmnist", folder)


def test_missing_files_name_the_files_the_folder_and_the_download_option(tmp_path):
    with pytest.raises(DataError) as info:
        load_data("fashion-mnist", tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and str(tmp_path) in message
    assert "--download" in message and "http" in message
