"""Subsets that ``--limit N`` evaluates."""

import torch

from cnnlab.data.splits import spread_subset


def test_spread_subset_draws_over_the_whole_split_in_order():
    labels = torch.arange(10).repeat_interleave(100)  # class by class, as an image folder
    chosen = spread_subset(len(labels), 100)
    assert len(chosen) == 100 == len(chosen.unique())
    assert torch.equal(chosen, chosen.sort().values)
    counts = labels[chosen].bincount(minlength=10)
    assert counts.min() >= 4, counts  # every class, where the first 100 would be one class
    assert torch.equal(spread_subset(len(labels), 100), chosen)  # the same images every time


def test_spread_subset_keeps_everything_when_the_limit_is_not_smaller():
    assert torch.equal(spread_subset(7, 7), torch.arange(7))
    assert torch.equal(spread_subset(7, 1000), torch.arange(7))
