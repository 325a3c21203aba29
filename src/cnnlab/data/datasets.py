"""Data set containers: in-memory tensors, streamed image files, and the three splits.

Both containers store images as uint8 ``(C, H, W)`` (values 0..255) and labels as
int64 class indices into ``classes``; conversion to float in [0, 1] happens
batch-wise in `cnnlab.data.make_loader`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cnnlab.data.image import read_image


@dataclass
class TensorImageDataset:
    """Images held in memory: ``images`` uint8 ``(N, C, H, W)``, ``labels`` int64 ``(N,)``,
    or ``(N, H, W)`` masks (a class per pixel) for segmentation."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )
        n, _, height, width = self.images.shape
        if self.labels.shape not in ((n,), (n, height, width)):
            raise ValueError(
                f"labels must have shape ({n},) (a class per image) or ({n}, {height}, {width}) "
                f"(a class per pixel), got {tuple(self.labels.shape)}"
            )
        self.labels = self.labels.to(torch.int64)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        label = self.labels[index]
        return self.images[index], int(label) if label.ndim == 0 else label

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of every image."""
        c, h, w = self.images.shape[1:]
        return c, h, w

    def subset(self, indices: torch.Tensor) -> TensorImageDataset:
        """The samples at ``indices`` (a copy), with the same class list."""
        indices = torch.as_tensor(indices, dtype=torch.int64)
        return TensorImageDataset(self.images[indices], self.labels[indices], self.classes)


class FolderImageDataset(torch.utils.data.Dataset):
    """Image files decoded on access, each converted to ``channels`` and resized to ``size``.

    For folders too large to decode into memory; `make_loader` reads it with a
    ``torch.utils.data.DataLoader`` (optionally with worker processes).
    """

    def __init__(
        self,
        paths: list[Path],
        labels: torch.Tensor,
        classes: list[str],
        *,
        size: tuple[int, int],
        channels: int,
    ):
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        self.paths = list(paths)
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        self.classes = classes
        self.size = size
        self.channels = channels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return read_image(self.paths[index], self.channels, self.size), int(self.labels[index])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of every image."""
        return self.channels, *self.size

    def subset(self, indices: torch.Tensor) -> FolderImageDataset:
        """The samples at ``indices``, with the same class list, size and channels."""
        indices = torch.as_tensor(indices, dtype=torch.int64)
        return FolderImageDataset(
            [self.paths[i] for i in indices.tolist()],
            self.labels[indices],
            self.classes,
            size=self.size,
            channels=self.channels,
        )


ImageDataset = TensorImageDataset | FolderImageDataset


@dataclass
class DataSplits:
    """The train / validation / test splits of one data set (see `cnnlab.data`)."""

    name: str
    train: ImageDataset
    val: ImageDataset
    test: ImageDataset
    classes: list[str]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the model input."""
        return self.train.image_shape
