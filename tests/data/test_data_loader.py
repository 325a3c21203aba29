import pytest
import torch

from cnnlab.data import TensorImageDataset, make_loader
from cnnlab.errors import ConfigError


@pytest.fixture
def dataset():
    images = torch.arange(103, dtype=torch.uint8).view(103, 1, 1, 1).expand(103, 2, 3, 3)
    return TensorImageDataset(
        images.contiguous(), torch.arange(103) % 7, [str(i) for i in range(7)]
    )


def order(loader):
    return torch.cat(
        [y_index for _, y_index in ((x, (x[:, 0, 0, 0] * 255).round().long()) for x, _ in loader)]
    )


def test_every_sample_appears_exactly_once_per_epoch(dataset):
    loader = make_loader(dataset, 10, shuffle=True, seed=1)
    seen = order(loader)
    assert sorted(seen.tolist()) == list(range(103))
    assert len(loader) == 11 == sum(1 for _ in loader)


def test_labels_travel_with_their_images(dataset):
    for x, y in make_loader(dataset, 16, shuffle=True):
        index = (x[:, 0, 0, 0] * 255).round().long()
        assert torch.equal(y, index % 7)


def test_same_seed_and_epoch_give_the_same_order(dataset):
    a = make_loader(dataset, 10, shuffle=True, seed=5, epoch=3)
    b = make_loader(dataset, 10, shuffle=True, seed=5, epoch=3)
    assert torch.equal(order(a), order(b))
    assert torch.equal(order(a), order(a))


def test_different_epoch_or_seed_gives_a_different_order(dataset):
    base = order(make_loader(dataset, 10, shuffle=True, seed=5, epoch=3))
    assert not torch.equal(base, order(make_loader(dataset, 10, shuffle=True, seed=5, epoch=4)))
    assert not torch.equal(base, order(make_loader(dataset, 10, shuffle=True, seed=6, epoch=3)))


def test_set_epoch_matches_a_fresh_loader_for_that_epoch(dataset):
    loader = make_loader(dataset, 10, shuffle=True, seed=2)
    loader.set_epoch(7)
    assert torch.equal(
        order(loader), order(make_loader(dataset, 10, shuffle=True, seed=2, epoch=7))
    )


def test_no_shuffle_keeps_dataset_order_and_drop_last_drops_the_rest(dataset):
    assert order(make_loader(dataset, 10, shuffle=False)).tolist() == list(range(103))
    loader = make_loader(dataset, 10, shuffle=False, drop_last=True)
    assert len(loader) == 10 and order(loader).tolist() == list(range(100))


def test_batches_are_float_in_unit_range(dataset):
    x, y = next(iter(make_loader(dataset, 8, shuffle=True)))
    assert x.dtype == torch.float32 and x.shape == (8, 2, 3, 3)
    assert x.min() >= 0 and x.max() <= 1 and y.dtype == torch.int64


def test_batch_size_must_be_positive(dataset):
    with pytest.raises(ConfigError):
        make_loader(dataset, 0, shuffle=True)


@pytest.mark.parametrize("drop_last", [False, True])
def test_with_indices_names_the_samples_of_each_batch(dataset, drop_last):
    loader = make_loader(dataset, 10, shuffle=True, seed=4, epoch=2, drop_last=drop_last)
    batches = list(loader.with_indices())
    assert len(batches) == len(loader)
    for (x, y, index), (plain_x, plain_y) in zip(batches, loader, strict=True):
        assert torch.equal((x[:, 0, 0, 0] * 255).round().long(), index)
        assert torch.equal(x, plain_x) and torch.equal(y, plain_y)


def test_streamed_folder_batches_follow_their_indices(tmp_path, make_image_folder, monkeypatch):
    from cnnlab.data import imagefolder, load_data

    make_image_folder(tmp_path, {"a": 5, "b": 7})
    monkeypatch.setattr(imagefolder, "MAX_IN_MEMORY_IMAGES", 5)
    train = load_data("imagefolder", tmp_path, val_fraction=0.25).train
    loader = make_loader(train, 4, shuffle=True, seed=1, epoch=3)
    for x, y, index in loader.with_indices():
        expected = torch.stack([train[int(i)][0] for i in index]).float() / 255
        assert torch.equal(x, expected)
        assert y.tolist() == [train[int(i)][1] for i in index]
