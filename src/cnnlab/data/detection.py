"""Detection data: images with a variable number of boxes, padded into one tensor.

An image of a detection data set has any number of objects, each a box
``(x1, y1, x2, y2)`` in pixels (corners, ``x1 <= x2``, ``y1 <= y2``, inside the
image) and a class index.  `DetectionDataset` stores them padded to the
largest count as one float32 tensor ``(N, M, 5)`` of rows ``[x1, y1, x2, y2,
class]`` whose unused rows have class `PAD` (-1), so that the in-memory
loader batches it like any other label tensor; `unpad_targets` turns a
batch back into one ``(boxes, classes)`` pair per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cnnlab.data.datasets import TensorImageDataset
from cnnlab.errors import DataError

PAD = -1  # the class of an unused row


def check_boxes(boxes: torch.Tensor, height: int, width: int, where: str) -> None:
    """Refuse boxes ``(K, 4)`` xyxy that are reversed or leave a ``height`` x ``width`` image."""
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DataError(f"{where}: boxes must be (K, 4), got {tuple(boxes.shape)}.")
    if not torch.isfinite(boxes).all():
        raise DataError(f"{where}: a box coordinate is not a finite number; fix the labels.")
    x1, y1, x2, y2 = boxes.unbind(1)
    reversed_ = (x2 < x1) | (y2 < y1)
    if reversed_.any():
        box = boxes[reversed_.nonzero()[0, 0]].tolist()
        raise DataError(
            f"{where}: box {box} has x2 < x1 or y2 < y1; boxes are (x1, y1, x2, y2) with the "
            "top-left corner first. Fix the labels (or the box format they were read with)."
        )
    tolerance = 1e-3 * max(height, width)  # rounding of normalized coordinates
    outside = (x1 < -tolerance) | (y1 < -tolerance)
    outside |= (x2 > width + tolerance) | (y2 > height + tolerance)
    if outside.any():
        box = boxes[outside.nonzero()[0, 0]].tolist()
        raise DataError(
            f"{where}: box {box} lies outside the {width}x{height} image (x in [0, {width}], "
            f"y in [0, {height}]). Fix the labels, or check that they belong to this image."
        )


def pad_targets(boxes: Sequence[torch.Tensor], classes: Sequence[torch.Tensor]) -> torch.Tensor:
    """One ``(N, M, 5)`` float32 tensor from per-image boxes ``(K, 4)`` and classes ``(K,)``."""
    rows = max([len(b) for b in boxes], default=0)
    targets = torch.zeros(len(boxes), max(rows, 1), 5)
    targets[:, :, 4] = PAD
    for n, (box, cls) in enumerate(zip(boxes, classes, strict=True)):
        targets[n, : len(box), :4] = box
        targets[n, : len(box), 4] = cls.float()
    return targets


def unpad_targets(targets: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image of a padded ``(B, M, 5)`` batch: ``(boxes (K, 4) float, classes (K,) int64)``."""
    out = []
    for rows in targets:
        kept = rows[rows[:, 4] != PAD]
        out.append((kept[:, :4].float(), kept[:, 4].long()))
    return out


@dataclass
class DetectionDataset(TensorImageDataset):
    """Images uint8 ``(N, C, H, W)`` with padded box targets ``labels`` ``(N, M, 5)``.

    ``classes`` names the object classes (there is no background class); a
    row's class indexes it.  Every box is checked against its image.
    """

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )
        n, _, height, width = self.images.shape
        if self.labels.ndim != 3 or self.labels.shape[0] != n or self.labels.shape[2] != 5:
            raise ValueError(
                f"detection labels must be ({n}, M, 5) rows [x1, y1, x2, y2, class], got "
                f"{tuple(self.labels.shape)}"
            )
        self.labels = self.labels.float()
        used = self.labels[..., 4][self.labels[..., 4] != PAD]
        if len(used) and (used.min() < 0 or used.max() >= len(self.classes)):
            raise DataError(
                f"a box has class {int(used.max() if used.max() >= 0 else used.min())}, but "
                f"there are only {len(self.classes)} classes {self.classes}."
            )
        try:
            check_boxes(self.labels[self.labels[..., 4] != PAD][:, :4], height, width, "")
        except DataError:  # say which image
            for index, (boxes, _) in enumerate(unpad_targets(self.labels)):
                check_boxes(boxes, height, width, f"image {index}")

    def subset(self, indices: torch.Tensor) -> DetectionDataset:
        """The samples at ``indices`` (a copy), with the same class list."""
        indices = torch.as_tensor(indices, dtype=torch.int64)
        return DetectionDataset(self.images[indices], self.labels[indices], self.classes)

    def targets(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(boxes (K, 4), classes (K,))`` of image ``index``."""
        return unpad_targets(self.labels[index : index + 1])[0]
