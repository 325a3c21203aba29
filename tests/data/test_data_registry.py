import pytest
import torch

from cnnlab.data import list_datasets, load_data
from cnnlab.data.splits import stratified_split
from cnnlab.errors import ConfigError, UnknownNameError

NAMES = {
    "digits",
    "mnist",
    "fashion-mnist",
    "kmnist",
    "cifar10",
    "cifar100",
    "imagefolder",
    "seg-canvas",
    "segfolder",
    "det-canvas",
    "yolo",
    "coco",
}


def test_list_datasets_names_every_data_set_with_a_description():
    listed = dict(list_datasets())
    assert set(listed) == NAMES and all(listed.values())


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="fashion-mnist"):
        load_data("fmnist")


def test_image_size_only_for_imagefolder():
    with pytest.raises(ConfigError, match="imagefolder"):
        load_data("digits", image_size=16)


def test_stratified_split_keeps_class_proportions_and_partitions():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    kept, held = stratified_split(labels, 0.1, seed=4)
    assert torch.bincount(labels[held]).tolist() == [5, 3, 2]
    assert sorted(torch.cat([kept, held]).tolist()) == list(range(100))
    again_kept, again_held = stratified_split(labels, 0.1, seed=4)
    assert torch.equal(held, again_held) and torch.equal(kept, again_kept)


def test_split_fraction_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="fraction"):
        stratified_split(torch.zeros(10, dtype=torch.int64), 1.0, seed=0)


def test_zero_val_fraction_gives_an_empty_val_set():
    splits = load_data("digits", val_fraction=0.0)
    assert len(splits.val) == 0 and len(splits.train) + len(splits.test) == 1797


def test_test_fraction_sets_the_held_out_share_and_zero_keeps_no_test_set():
    tenth = load_data("digits", test_fraction=0.1)
    per_class = torch.bincount(tenth.test.labels + 0)
    everything = torch.bincount(load_data("digits", test_fraction=0.0, val_fraction=0.5).val.labels)
    assert len(tenth.test) == 179 and (per_class - everything * 0.2).abs().max() <= 1
    none = load_data("digits", test_fraction=0.0, val_fraction=0.1)
    assert len(none.test) == 0 and len(none.train) + len(none.val) == 1797
    assert len(load_data("digits").test) == 359  # the default 20 %, unchanged


def test_test_fraction_is_refused_where_an_official_test_split_exists(tmp_path):
    with pytest.raises(ConfigError, match="official test split"):
        load_data("mnist", tmp_path, test_fraction=0.1)
