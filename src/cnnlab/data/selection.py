"""Restricting a data set to some classes and to a few labelled images per class.

Used for transfer-learning experiments (Yosinski et al. 2014 split ImageNet in
two halves of classes; here e.g. CIFAR-10's animals vs its vehicles) and for
learning curves with little data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from cnnlab.errors import ConfigError


def select_classes(dataset, names: Sequence[str]):
    """The samples of the classes ``names``, relabelled 0..len(names)-1 in that order."""
    odd = next((n for n in names if not isinstance(n, str)), None)
    if odd is not None:  # checked before a message repeats names, which may nest without bound
        raise ConfigError(
            f"Class names must be strings, got a {type(odd).__name__} among them. "
            f"The data set's classes are {dataset.classes}."
        )
    unknown = [n for n in names if n not in dataset.classes]
    if unknown or len(set(names)) != len(names) or not names:
        raise ConfigError(
            f"Cannot select classes {list(names)}: "
            + (f"{unknown} are not in the data set. " if unknown else "names must be unique. ")
            + f"The data set's classes are {dataset.classes}."
        )
    old_index = torch.tensor([dataset.classes.index(n) for n in names])
    keep = torch.isin(dataset.labels, old_index).nonzero().flatten()
    subset = dataset.subset(keep)
    new_label = torch.full((len(dataset.classes),), -1, dtype=torch.int64)
    new_label[old_index] = torch.arange(len(names))
    subset.labels = new_label[subset.labels]
    subset.classes = list(names)
    return subset


def limit_per_class(dataset, count: int, seed: int):
    """A seeded random choice of ``count`` samples of every class (all of a smaller class)."""
    if count < 1:
        raise ConfigError(f"The number of images per class must be >= 1, got {count}.")
    rng = np.random.default_rng(seed)
    labels = dataset.labels.numpy()
    chosen = [
        rng.permutation(np.flatnonzero(labels == c))[:count] for c in range(len(dataset.classes))
    ]
    return dataset.subset(torch.from_numpy(np.sort(np.concatenate(chosen))).long())
