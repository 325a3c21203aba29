import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.data import FolderImageDataset, TensorImageDataset, imagefolder, load_data, make_loader
from cnnlab.data.imagefolder import load_imagefolder
from cnnlab.data.paths import cache_root
from cnnlab.errors import DataError

CIFAR_TAR = (
    Path(__file__).parents[2].parent / "shared" / "datasets" / "cifar10-jpg" / "train.tar.gz"
)
CIFAR_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def test_folder_classes_are_sorted_and_images_decoded_in_memory(tmp_path, make_image_folder):
    make_image_folder(tmp_path / "pets", {"dog": 4, "cat": 3, "bird": 5})
    data = load_imagefolder(tmp_path / "pets")
    assert isinstance(data, TensorImageDataset)
    assert data.classes == ["bird", "cat", "dog"]
    assert data.images.shape == (12, 3, 12, 10)
    assert torch.bincount(data.labels).tolist() == [5, 3, 4]
    first = torch.from_numpy(np.array(Image.open(tmp_path / "pets/bird/000.png")))
    assert torch.equal(data.images[0], first.permute(2, 0, 1))


def test_grey_folder_gives_one_channel(tmp_path, make_image_folder):
    make_image_folder(tmp_path, {"a": 2, "b": 2}, mode="L")
    assert load_imagefolder(tmp_path).images.shape[1] == 1


def test_tar_with_wrapper_folder_matches_the_folder(tmp_path, make_image_folder):
    make_image_folder(tmp_path / "src" / "train", {"x": 3, "y": 3})
    with tarfile.open(tmp_path / "data.tgz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "train", arcname="train")
    from_tar = load_imagefolder(tmp_path / "data.tgz")
    from_folder = load_imagefolder(tmp_path / "src")
    assert from_tar.classes == ["x", "y"]
    assert torch.equal(from_tar.images, from_folder.images)


def test_second_load_comes_from_the_safetensors_cache(tmp_path, make_image_folder, monkeypatch):
    make_image_folder(tmp_path, {"a": 3, "b": 3})
    first = load_imagefolder(tmp_path)
    assert len(list((cache_root() / "decoded").glob("*.safetensors"))) == 1

    def fail(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(imagefolder, "decode_all", fail)
    second = load_imagefolder(tmp_path)
    assert torch.equal(first.images, second.images) and second.classes == first.classes


def test_changed_folder_is_decoded_again(tmp_path, make_image_folder):
    make_image_folder(tmp_path, {"a": 3, "b": 3})
    load_imagefolder(tmp_path)
    Image.new("RGB", (10, 12)).save(tmp_path / "a" / "new.png")
    assert len(load_imagefolder(tmp_path)) == 7


def test_mixed_sizes_need_image_size(tmp_path, make_image_folder):
    make_image_folder(tmp_path, {"a": 2, "b": 2})
    Image.new("RGB", (30, 20)).save(tmp_path / "a" / "big.png")
    with pytest.raises(DataError, match="image_size"):
        load_imagefolder(tmp_path)
    assert load_imagefolder(tmp_path, image_size=16).images.shape == (5, 3, 16, 16)


def test_large_folder_is_streamed(tmp_path, make_image_folder, monkeypatch):
    make_image_folder(tmp_path, {"a": 4, "b": 6})
    monkeypatch.setattr(imagefolder, "MAX_IN_MEMORY_IMAGES", 5)
    data = load_imagefolder(tmp_path)
    assert isinstance(data, FolderImageDataset) and data.image_shape == (3, 12, 10)
    image, label = data[9]
    assert image.dtype == torch.uint8 and label == 1
    splits = load_data("imagefolder", tmp_path, val_fraction=0.25)
    assert isinstance(splits.train, FolderImageDataset)
    x, y = next(iter(make_loader(splits.train, 4, shuffle=True)))
    assert x.shape == (4, 3, 12, 10) and x.dtype == torch.float32 and y.dtype == torch.int64


def test_folder_without_classes_or_images_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no class sub-folders"):
        load_imagefolder(tmp_path / "empty")
    (tmp_path / "empty" / "cat").mkdir()
    (tmp_path / "empty" / "dog").mkdir()
    with pytest.raises(DataError, match="contains no images"):
        load_imagefolder(tmp_path / "empty")
    with pytest.raises(DataError, match="needs data_dir"):
        load_data("imagefolder")


@pytest.mark.slow
@pytest.mark.skipif(not CIFAR_TAR.is_file(), reason=f"{CIFAR_TAR} not present")
def test_cifar10_jpeg_tar_loads_and_caches():
    start = time.perf_counter()
    data = load_imagefolder(CIFAR_TAR)
    first = time.perf_counter() - start
    assert data.classes == CIFAR_CLASSES
    assert data.images.shape == (50000, 3, 32, 32)
    assert torch.bincount(data.labels).tolist() == [5000] * 10
    start = time.perf_counter()
    again = load_imagefolder(CIFAR_TAR)
    cached = time.perf_counter() - start
    assert torch.equal(again.images, data.images)
    assert cached < first / 4, (first, cached)
    splits = load_data("imagefolder", CIFAR_TAR)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (36000, 4000, 10000)
