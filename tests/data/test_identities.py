"""Identity splits: held-out classes are the test split and never seen in training."""

import pytest
import torch
from tests.conftest import shared_dataset

from cnnlab.data import load_data
from cnnlab.errors import ConfigError, DataError


def test_digits_hold_out_five_classes():
    data = load_data("digits", holdout_classes=["5", "6", "7", "8", "9"], seed=1)
    full = load_data("digits", test_fraction=0.0)
    assert data.classes == [str(i) for i in range(10)]
    assert int(data.train.labels.max()) <= 4 and int(data.val.labels.max()) <= 4
    assert sorted(data.test.labels.unique().tolist()) == [5, 6, 7, 8, 9]
    # the test split is every image of the held-out digits (digits has no official test split)
    held = torch.isin(torch.cat([full.train.labels, full.val.labels]), torch.arange(5, 10))
    assert len(data.test) == int(held.sum())
    assert len(data.train) + len(data.val) + len(data.test) == 1797


def test_classes_are_reordered_seen_first_and_indices_are_accepted():
    data = load_data("digits", holdout_classes=["0", "3"])
    assert data.classes == ["1", "2", "4", "5", "6", "7", "8", "9", "0", "3"]
    assert sorted(data.test.labels.unique().tolist()) == [8, 9]
    # a test image labelled 8 is a 0: the same pixels as in the plain data set
    plain = load_data("digits", test_fraction=0.0)
    zero = plain.train.images[plain.train.labels == 0][:1]
    assert (data.test.images == zero).flatten(1).all(1).any()


def test_train_and_val_are_disjoint_and_stratified():
    data = load_data("digits", holdout_classes=["8", "9"], val_fraction=0.2, seed=0)
    train = {bytes(x.numpy()) for x in data.train.images}
    assert not any(bytes(x.numpy()) in train for x in data.val.images)
    assert set(data.val.labels.tolist()) == set(range(8))


def test_image_folder_of_identities(tmp_path, make_image_folder):
    root = make_image_folder(tmp_path / "people", {"ann": 4, "bob": 3, "cy": 5, "dee": 2})
    data = load_data("imagefolder", root, holdout_classes=["cy", "dee"], val_fraction=0.25)
    assert data.classes == ["ann", "bob", "cy", "dee"]
    assert torch.bincount(data.test.labels).tolist() == [0, 0, 5, 2]
    assert len(data.train) + len(data.val) == 7


def test_held_out_identity_with_a_single_image_is_a_clear_error(tmp_path, make_image_folder):
    root = make_image_folder(tmp_path / "people", {"ann": 4, "bob": 3, "cy": 1})
    with pytest.raises(DataError, match=r"\['cy'\] have fewer than two test images"):
        load_data("imagefolder", root, holdout_classes=["cy"])


@pytest.mark.parametrize(
    ("holdout", "match"),
    [
        (["cat"], "neither class names nor indices"),
        (["10"], "neither class names nor indices"),
        (["5", "5"], "distinct"),
        ([str(i) for i in range(9)], "fewer than two to train on"),
    ],
)
def test_bad_holdout_is_a_config_error(holdout, match):
    with pytest.raises(ConfigError, match=match):
        load_data("digits", holdout_classes=holdout)


def test_holdout_refuses_class_selection():
    with pytest.raises(ConfigError, match="cannot be combined"):
        load_data("digits", holdout_classes=["9"], classes=["1", "9"])


def test_fashion_mnist_held_out_classes_come_from_the_official_test_split():
    folder = shared_dataset("fashion-mnist")
    data = load_data("fashion-mnist", folder, holdout_classes=list("56789"))
    assert data.classes[5:] == ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert len(data.train) + len(data.val) == 30_000 and len(data.test) == 5_000
