"""Deterministic stratified splits.

Each class is shuffled with a ``numpy.random.default_rng(seed)`` stream and
``round(fraction * n_class)`` of its samples are held out (at least one when the
class has two or more samples and ``fraction > 0``), so every split keeps the
class proportions and the same seed always gives the same split.
"""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.errors import ConfigError

# Seed of the test split carved from data sets without an official one.  It is a
# constant, not the user's seed, so that the test set never changes between runs.
TEST_SPLIT_SEED = 20_261_122
TEST_FRACTION = 0.2
# Seed of the subsets that `--limit N` evaluates: fixed, so that every attack and
# explanation of a split with the same N sees the same images.
SUBSET_SEED = 0


def stratified_split(
    labels: torch.Tensor, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split sample indices into ``(kept, held_out)``, holding out ``fraction`` of each class.

    Both index tensors are sorted, so the subsets keep the original sample order.
    """
    if not 0 <= fraction < 1:
        raise ConfigError(f"A split fraction must be in [0, 1), got {fraction!r}.")
    rng = np.random.default_rng(seed)
    labels_np = labels.numpy()
    held: list[np.ndarray] = []
    for cls in np.unique(labels_np):
        members = np.flatnonzero(labels_np == cls)
        count = round(fraction * len(members))
        if fraction > 0 and len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        held.append(rng.permutation(members)[:count])
    held_idx = np.sort(np.concatenate(held)) if held else np.empty(0, np.int64)
    kept_idx = np.setdiff1d(np.arange(len(labels_np)), held_idx)
    return torch.from_numpy(kept_idx).long(), torch.from_numpy(held_idx).long()


def random_split(count: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kept, held_out)`` indices of ``count`` samples, ``fraction`` held out at random by
    ``seed``; for data sets without a class per sample (segmentation masks).  Both sorted."""
    if not 0 <= fraction < 1:
        raise ConfigError(f"A split fraction must be in [0, 1), got {fraction!r}.")
    order = np.random.default_rng(seed).permutation(count)
    cut = round(fraction * count)
    held, kept = np.sort(order[:cut]), np.sort(order[cut:])
    return torch.from_numpy(kept).long(), torch.from_numpy(held).long()


def spread_subset(count: int, limit: int) -> torch.Tensor:
    """Indices of ``limit`` of ``count`` samples: a fixed uniform draw, in their original order.

    Splits keep their source's order, which is class by class for an image
    folder, so the first ``limit`` samples would cover only the first classes
    (the first 1,000 of CIFAR-10's 5,000 validation images are its airplanes
    and automobiles).
    """
    if limit >= count:
        return torch.arange(count)
    chosen = np.random.default_rng(SUBSET_SEED).choice(count, limit, replace=False)
    return torch.from_numpy(np.sort(chosen)).long()
