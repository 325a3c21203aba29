"""Identity splits for one-shot recognition: some classes are never seen in training.

Metric learning is judged on identities the network has never seen (a new
person from one photo, Taigman et al. 2014; Schroff et al. 2015).  Given the
names of the held-out classes, `identity_splits` trains and validates on
the other classes and tests on the held-out ones only:

- train / val: the images of the seen classes from the training pool
  (validation is a stratified share of them, new images of known identities);
- test: the held-out classes' images of the official test split, or, for data
  sets without one (digits, an image folder of identities), all their images
  (no image of theirs is used in training anyway).

Classes are reordered seen first, held out last, so that the seen ones are
``0..k-1`` (what a classification-style loss such as ArcFace needs) and the
held-out ones ``k..n-1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cnnlab.data.datasets import DataSplits, ImageDataset
from cnnlab.data.selection import limit_per_class, select_classes
from cnnlab.data.splits import stratified_split
from cnnlab.errors import ConfigError, DataError


def resolve_holdout(classes: Sequence[str], holdout: Sequence[str]) -> list[str]:
    """The held-out class names; each is a class name or, failing that, a class index.

    Checked: known, unique, and leaving at least two classes to train on.
    """
    names, unknown = [], []
    for item in map(str, holdout):
        if item in classes:
            names.append(item)
        elif item.isdigit() and int(item) < len(classes):
            names.append(classes[int(item)])
        else:
            unknown.append(item)
    if unknown:
        raise ConfigError(
            f"holdout classes {unknown} are neither class names nor indices 0..{len(classes) - 1}"
            f" of the data set; its classes are {list(classes)}."
        )
    if len(set(names)) != len(names) or not names:
        raise ConfigError(f"holdout classes must name distinct classes, got {list(holdout)}.")
    if len(classes) - len(names) < 2:
        raise ConfigError(
            f"holding out {len(names)} of {len(classes)} classes leaves fewer than two to "
            "train on; hold out fewer classes."
        )
    return names


def _relabelled(dataset: ImageDataset, names: list[str], order: list[str]) -> ImageDataset:
    """The images of ``names``, labelled by their index in ``order``."""
    subset = select_classes(dataset, names)
    subset.labels = subset.labels + order.index(names[0])
    subset.classes = order
    return subset


def identity_splits(
    name: str,
    pool: ImageDataset,
    test: ImageDataset | None,
    holdout: Sequence[str],
    *,
    val_fraction: float,
    seed: int,
    per_class: int | None = None,
) -> DataSplits:
    """Train/val on the seen classes of ``pool``, test on the ``holdout`` classes.

    ``holdout`` names classes (or gives their indices).  ``test`` is the official
    test split, or None when the data set has none (then the held-out classes'
    images of ``pool`` are the test split).
    ``per_class`` limits the seen classes' images (train + val).
    """
    holdout = resolve_holdout(pool.classes, holdout)
    seen = [c for c in pool.classes if c not in holdout]
    order = seen + holdout
    held_out = _relabelled(test if test is not None else pool, holdout, order)
    counts = torch.bincount(held_out.labels, minlength=len(order))[len(seen) :]
    single = [c for c, n in zip(holdout, counts.tolist(), strict=True) if n < 2]
    if single:
        raise DataError(
            f"held-out identities {single} have fewer than two test images; one-shot "
            "identification needs one to enrol and one to recognize. Add images of them or "
            "hold out other classes."
        )
    seen_pool = _relabelled(pool, seen, order)
    if per_class is not None:
        seen_pool = limit_per_class(seen_pool, per_class, seed)
    train_idx, val_idx = stratified_split(seen_pool.labels, val_fraction, seed)
    return DataSplits(name, seen_pool.subset(train_idx), seen_pool.subset(val_idx), held_out, order)
