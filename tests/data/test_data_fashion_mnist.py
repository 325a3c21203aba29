"""The real Fashion-MNIST files from the shared development data sets."""

from collections import Counter
from pathlib import Path

import pytest
import torch

from cnnlab.data import load_data
from cnnlab.data.idx import load_idx_dataset

FOLDER = Path(__file__).parents[2].parent / "shared" / "datasets" / "fashion-mnist"
pytestmark = pytest.mark.skipif(not FOLDER.is_dir(), reason=f"{FOLDER} not present")


@pytest.fixture(scope="module")
def official():
    return load_idx_dataset("fashion-mnist", FOLDER)


def test_official_splits_have_60000_and_10000_images(official):
    train, test = official
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8


def test_official_train_has_6000_images_per_class(official):
    assert torch.bincount(official[0].labels).tolist() == [6000] * 10
    assert torch.bincount(official[1].labels).tolist() == [1000] * 10


def test_load_data_uses_official_test_and_stratified_val():
    splits = load_data("fashion-mnist", FOLDER, val_fraction=0.1, seed=3)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (54000, 6000, 10000)
    assert torch.bincount(splits.val.labels).tolist() == [600] * 10
    assert splits.classes[0] == "T-shirt/top" and splits.classes[9] == "Ankle boot"
    assert splits.input_shape == (1, 28, 28)


def _rows(dataset):
    return Counter(bytes(row) for row in dataset.images.flatten(1).numpy())


def test_val_depends_only_on_seed_and_train_val_partition_the_official_train(official):
    a = load_data("fashion-mnist", FOLDER, seed=1)
    b = load_data("fashion-mnist", FOLDER, seed=1)
    c = load_data("fashion-mnist", FOLDER, seed=2)
    assert torch.equal(a.val.images, b.val.images) and torch.equal(a.val.labels, b.val.labels)
    assert not torch.equal(a.val.images, c.val.images)
    # As multisets (Fashion-MNIST has duplicate images): train + val == official train.
    assert _rows(a.train) + _rows(a.val) == _rows(official[0])
    assert torch.equal(a.test.images, c.test.images)
