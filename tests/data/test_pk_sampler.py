"""PK batches (Hermans et al. 2017, Sec. 3): P identities x K images, seeded, covering the data."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.data import TensorImageDataset, make_loader
from cnnlab.data.pk_sampler import PKLoader, parse_pk, pk_batches, pk_shape
from cnnlab.errors import ConfigError


def _labels(sizes: list[int]) -> torch.Tensor:
    """Identity ``i`` repeated ``sizes[i]`` times, then shuffled (order must not matter)."""
    labels = torch.cat([torch.full((n,), i) for i, n in enumerate(sizes)])
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]


def _check_pk(batch: torch.Tensor, labels: torch.Tensor, p: int, k: int) -> None:
    rows = labels[batch].view(p, k)
    assert (rows == rows[:, :1]).all()  # K images of one identity per row
    assert len(rows[:, 0].unique()) == p  # P distinct identities


def test_every_batch_holds_p_identities_of_k_images_each():
    labels = _labels([30, 25, 40, 12, 33, 21, 50])
    batches = pk_batches(labels, 4, 3, 20, torch.Generator().manual_seed(0))
    assert len(batches) == 20
    for batch in batches:
        _check_pk(batch, labels, 4, 3)
        assert len(batch.unique()) == 12  # no image twice in a batch


def test_equal_identities_are_covered_exactly_once_per_epoch():
    labels = _labels([40] * 6)  # 240 images, 6 identities
    batches = pk_batches(labels, 3, 4, 20, torch.Generator().manual_seed(0))  # 20 x 12 = 240
    seen = torch.cat(batches)
    assert torch.equal(seen.sort().values, torch.arange(240))


@settings(max_examples=40, deadline=None)
@given(
    groups=st.lists(st.integers(1, 6), min_size=2, max_size=8),
    p=st.integers(2, 4),
    k=st.integers(2, 5),
    seed=st.integers(0, 2**31),
)
def test_any_coverable_epoch_is_covered(groups, p, k, seed):
    """When the batches can hold every image (the largest identity fits one per batch),
    the fullest-queue-first schedule shows every image."""
    p = min(p, len(groups))
    batches = max(-(-sum(groups) // p), max(groups))  # room for all, the largest one per batch
    labels = _labels([g * k for g in groups])
    out = pk_batches(labels, p, k, batches, torch.Generator().manual_seed(seed))
    assert set(torch.cat(out).tolist()) == set(range(len(labels)))
    for batch in out:
        _check_pk(batch, labels, p, k)


def test_an_identity_with_fewer_than_k_images_repeats_its_own():
    labels = _labels([2, 9, 9])
    for batch in pk_batches(labels, 3, 4, 5, torch.Generator().manual_seed(0)):
        _check_pk(batch, labels, 3, 4)


def test_batches_are_seeded_and_deterministic():
    labels = _labels([20, 20, 20, 20])

    def draw(seed):
        return pk_batches(labels, 2, 5, 8, torch.Generator().manual_seed(seed))

    assert all(torch.equal(a, b) for a, b in zip(draw(3), draw(3), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(draw(3), draw(4), strict=True))


def test_the_pk_loader_keeps_the_epoch_length_and_varies_by_epoch():
    labels = _labels([16, 16, 16, 16])
    images = torch.arange(64, dtype=torch.uint8).view(64, 1, 1, 1).expand(64, 1, 2, 2)
    data = TensorImageDataset(images.clone(), labels, ["a", "b", "c", "d"])

    def epoch(number):
        base = make_loader(data, 8, shuffle=True, seed=0, epoch=number)
        loader = PKLoader(base, 2, 4)
        assert len(loader) == len(base) == 8
        return [(x, y, i) for x, y, i in loader.with_indices()]

    first = epoch(0)
    for x, y, idx in first:
        assert x.shape == (8, 1, 2, 2)
        assert torch.equal(y, labels[idx])
        assert torch.equal((x[:, 0, 0, 0] * 255).round().long(), idx)  # the rows' own images
        _check_pk(idx, labels, 2, 4)
    assert sorted(torch.cat([i for _, _, i in first]).tolist()) == list(range(64))
    again = epoch(0)
    assert all(torch.equal(a[2], b[2]) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a[2], b[2]) for a, b in zip(first, epoch(1), strict=True))


def test_pk_shape_auto_explicit_and_off():
    assert pk_shape("auto", pairs=True, batch_size=128, identities=5) == (5, 25)
    assert pk_shape("auto", pairs=True, batch_size=128, identities=751) == (32, 4)
    assert pk_shape("auto", pairs=False, batch_size=128, identities=5) is None
    assert pk_shape("off", pairs=True, batch_size=128, identities=5) is None
    assert pk_shape("4,8", pairs=False, batch_size=32, identities=5) == (4, 8)
    assert parse_pk("18x4") == (18, 4)


@pytest.mark.parametrize(
    ("spec", "batch", "identities", "match"),
    [
        ("4,8", 64, 5, "pass --batch-size 32"),
        ("8,4", 32, 5, "need at least 8 training identities"),
        ("16,1", 16, 20, "K >= 2"),
        ("four", 32, 5, "'P,K'"),
        ("4,4,2", 32, 5, "'P,K'"),
    ],
)
def test_bad_pk_is_a_config_error(spec, batch, identities, match):
    with pytest.raises(ConfigError, match=match):
        pk_shape(spec, pairs=True, batch_size=batch, identities=identities)
