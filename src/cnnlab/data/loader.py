"""Batches of ``(x, y)``: ``x`` float32 in [0, 1] ``(B, C, H, W)``, ``y`` int64 ``(B,)``.

The sample order of an epoch is ``torch.randperm`` drawn from a generator seeded
with ``(seed, epoch)``, so the order depends on nothing else: a run resumed at
epoch ``k`` sees exactly the batches it would have seen without interruption.
In-memory data sets are batched by indexing the uint8 tensor (no per-image
Python code) and converted to float on ``device``; image folders go through a
``torch.utils.data.DataLoader`` with the same permutation as its sampler.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from cnnlab.data.datasets import FolderImageDataset, ImageDataset, TensorImageDataset
from cnnlab.errors import check_positive


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator whose state depends only on ``(seed, epoch)``."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of ``epoch``: a permutation of ``range(n)`` fixed by ``(seed, epoch)``."""
    return torch.randperm(n, generator=epoch_generator(seed, epoch))


class Loader:
    """Iterable over one epoch of batches; ``len()`` is the number of batches.

    Iterating again repeats the same epoch; call `set_epoch` to move on.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        epoch: int,
        device: torch.device,
        drop_last: bool,
        num_workers: int,
    ):
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.seed, self.epoch, self.device = seed, epoch, device
        self.drop_last, self.num_workers = drop_last, num_workers

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batch_indices(self) -> list[torch.Tensor]:
        n = len(self.dataset)
        order = epoch_permutation(n, self.seed, self.epoch) if self.shuffle else torch.arange(n)
        return list(order[: len(self) * self.batch_size].split(self.batch_size))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y, _ in self.with_indices():
            yield x, y

    def with_indices(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The epoch's batches as ``(x, y, indices)``: ``indices`` names each row's sample.

        Per-sample transforms that must not depend on the batching (Jordan's alternating
        flip) key on these data set indices.
        """
        indices = self._batch_indices()
        if isinstance(self.dataset, TensorImageDataset):
            batches = ((self.dataset.images[idx], self.dataset.labels[idx]) for idx in indices)
        else:
            batches = iter(
                torch.utils.data.DataLoader(
                    self.dataset,
                    batch_size=self.batch_size,
                    sampler=torch.cat(indices).tolist(),
                    num_workers=self.num_workers,
                    pin_memory=self.device.type == "cuda",
                )
            )
        non_blocking = self.device.type == "cuda"
        for (x, y), idx in zip(batches, indices, strict=True):
            x = x.to(self.device, non_blocking=non_blocking).float().div_(255)
            yield x, y.to(self.device, non_blocking=non_blocking), idx


def make_loader(
    dataset: ImageDataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    device: str | torch.device = "cpu",
    drop_last: bool = False,
    num_workers: int = 0,
) -> Loader:
    """Batches of ``dataset`` for one epoch, as float32 in [0, 1] on ``device``.

    ``shuffle=False`` keeps the data set order (evaluation).  ``num_workers``
    only applies to `FolderImageDataset`.
    """
    check_positive("batch_size", batch_size)
    if not isinstance(dataset, TensorImageDataset | FolderImageDataset):
        raise TypeError(
            f"expected a TensorImageDataset or FolderImageDataset, got {type(dataset).__name__}"
        )
    return Loader(
        dataset,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        epoch=epoch,
        device=torch.device(device),
        drop_last=drop_last,
        num_workers=num_workers,
    )
