"""The data set registry: ``load_data(name, ...)`` and ``list_datasets()``.

Each entry maps a name to a one-line description and a function returning the
official ``(train, test)`` sets, or ``(all samples, None)`` for data sets without
an official test split; `load_data` applies the split rules of
`cnnlab.data` to either.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from cnnlab.data.canvas import load_canvases
from cnnlab.data.cifar import load_cifar
from cnnlab.data.datasets import DataSplits, ImageDataset
from cnnlab.data.det_canvas import load_detection_canvases
from cnnlab.data.detection_formats import load_coco, load_yolo
from cnnlab.data.digits import load_digits
from cnnlab.data.identities import identity_splits
from cnnlab.data.idx import load_idx_dataset
from cnnlab.data.imagefolder import load_imagefolder
from cnnlab.data.segfolder import load_segfolder
from cnnlab.data.selection import limit_per_class, select_classes
from cnnlab.data.splits import TEST_FRACTION, TEST_SPLIT_SEED, random_split, stratified_split
from cnnlab.errors import ConfigError, check_choice

Source = Callable[..., tuple[ImageDataset, ImageDataset | None]]


@dataclass(frozen=True)
class DatasetInfo:
    description: str
    source: Source  # (data_dir, *, download, image_size) -> (train, test or None)
    official_test: bool = True  # False: the test split is carved out by load_data


def _idx(name: str, data_dir, *, download: bool, image_size: int | None):
    return load_idx_dataset(name, data_dir, download=download)


def _cifar(name: str, data_dir, *, download: bool, image_size: int | None):
    return load_cifar(name, data_dir, download=download)


def _digits(data_dir, *, download: bool, image_size: int | None):
    return load_digits(), None


def _canvases(
    data_dir, *, download: bool, image_size: int | None, canvas_source: str | None = None
):
    return load_canvases(canvas_source or "digits", data_dir, download=download)


def _yolo(data_dir, *, download: bool, image_size: int | None):
    return load_yolo(data_dir, image_size=image_size)


def _coco(data_dir, *, download: bool, image_size: int | None):
    return load_coco(data_dir, image_size=image_size)


def _detection_canvases(
    data_dir, *, download: bool, image_size: int | None, canvas_source: str | None = None
):
    return load_detection_canvases(canvas_source or "digits", data_dir)


def _imagefolder(data_dir, *, download: bool, image_size: int | None):
    return load_imagefolder(data_dir, image_size=image_size), None


def _segfolder(data_dir, *, download: bool, image_size: int | None):
    return load_segfolder(data_dir, image_size=image_size), None


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "scikit-learn handwritten digits, 1797 images, 1x32x32, 10 classes (embedded, no download)",
        _digits,
        official_test=False,
    ),
    "mnist": DatasetInfo(
        "MNIST handwritten digits, 60k/10k, 1x28x28, 10 classes", partial(_idx, "mnist")
    ),
    "fashion-mnist": DatasetInfo(
        "Fashion-MNIST clothing, 60k/10k, 1x28x28, 10 classes", partial(_idx, "fashion-mnist")
    ),
    "kmnist": DatasetInfo(
        "Kuzushiji-MNIST cursive Japanese, 60k/10k, 1x28x28, 10 classes", partial(_idx, "kmnist")
    ),
    "cifar10": DatasetInfo(
        "CIFAR-10 objects, 50k/10k, 3x32x32, 10 classes", partial(_cifar, "cifar10")
    ),
    "cifar100": DatasetInfo(
        "CIFAR-100 objects, 50k/10k, 3x32x32, 100 fine classes", partial(_cifar, "cifar100")
    ),
    "seg-canvas": DatasetInfo(
        "segmentation canvases of 2-4 embedded digits 0-3 on a background, 2000/400, 1x64x64, "
        "5 classes per pixel (generated, no download; --canvas-source mnist, fashion-mnist or "
        "cifar10 draws from those files instead)",
        _canvases,
    ),
    "det-canvas": DatasetInfo(
        "detection canvases of 1-5 embedded digits 0-2 with exact boxes, 2000/400, 1x96x96, "
        "3 classes (generated, no download; --canvas-source mnist|fashion-mnist)",
        _detection_canvases,
    ),
    "yolo": DatasetInfo(
        "your detection data in YOLO format: data_dir/images/{train,val}, data_dir/labels/"
        "{train,val} (class cx cy w h per line), class names in data.yaml or classes.txt",
        _yolo,
    ),
    "coco": DatasetInfo(
        "your detection data in COCO format: data_dir/train.json (+ val.json), images in "
        "data_dir/images",
        _coco,
    ),
    "imagefolder": DatasetInfo(
        "your images: data_dir/<class>/<image> or a .tar/.tar.gz of that layout",
        _imagefolder,
        official_test=False,
    ),
    "segfolder": DatasetInfo(
        "your segmentation data: data_dir/images/<stem>.*, data_dir/masks/<stem>.png (index "
        "PNGs) and data_dir/classes.txt, or a .tar/.tar.gz of that layout",
        _segfolder,
        official_test=False,
    ),
}


def list_datasets() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every data set ``load_data`` knows."""
    return [(name, info.description) for name, info in DATASETS.items()]


def load_data(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    val_fraction: float = 0.1,
    test_fraction: float | None = None,
    seed: int = 0,
    download: bool = False,
    image_size: int | None = None,
    classes: Sequence[str] | None = None,
    per_class: int | None = None,
    holdout_classes: Sequence[str] | None = None,
    canvas_source: str | None = None,
) -> DataSplits:
    """Load data set ``name`` and split it into train / val / test (rules: `cnnlab.data`).

    Parameters
    ----------
    name
        one of `list_datasets`.
    data_dir
        folder with the data set files (default ``$CNNLAB_DATA/<name>``); for
        ``imagefolder`` the image folder or archive itself.
    val_fraction
        fraction of each class of the training pool held out for validation.
    test_fraction
        data sets without an official test split (digits, imagefolder) only:
        the fraction of each class held out as ``test`` (default 0.2; 0 keeps no test set,
        e.g. CIFAR-10's usual 45k/5k train/validation split of its training images).
    seed
        chooses the validation split (the test split never depends on it).
    download
        fetch missing official files (mnist, fashion-mnist, kmnist, cifar10, cifar100).
    image_size
        ``imagefolder`` and ``segfolder`` only: resize every image (and mask) to
        ``image_size`` x ``image_size``; ``yolo`` and ``coco``: letterbox every image
        (and its boxes) into ``image_size`` x ``image_size``.
    classes
        keep only these classes (relabelled in this order), in every split.
    per_class
        keep this many labelled images per class for training and validation
        together (a seeded choice by ``seed``); the test split is left whole.
    canvas_source
        ``seg-canvas`` only: the data set its glyphs come from
        (`cnnlab.data.canvas.CANVAS_SOURCES`; default the embedded digits),
        read from ``data_dir``.
    """
    check_choice("data set", name, DATASETS)
    if image_size is not None and name not in ("imagefolder", "segfolder", "yolo", "coco"):
        raise ConfigError(
            f"image_size only applies to imagefolder, segfolder, yolo and coco, not {name!r}; "
            "resize inside the model or with a transform instead."
        )
    if test_fraction is not None and DATASETS[name].official_test:
        raise ConfigError(
            f"{name} has an official test split, so test_fraction ({test_fraction}) does not "
            "apply; it is for data sets without one (digits, imagefolder). Drop the option."
        )
    source_options = {}
    if canvas_source is not None:
        if name not in ("seg-canvas", "det-canvas"):
            raise ConfigError(
                f"canvas_source picks the glyphs of seg-canvas and det-canvas; it does not "
                f"apply to {name!r}. Drop the option or use --dataset seg-canvas or det-canvas."
            )
        source_options["canvas_source"] = canvas_source
    pool, test = DATASETS[name].source(
        data_dir, download=download, image_size=image_size, **source_options
    )
    if holdout_classes is not None:
        if classes is not None or test_fraction is not None or pool.labels.ndim > 1:
            raise ConfigError(
                "holdout_classes makes the held-out classes the test split; it cannot be "
                "combined with classes or test_fraction, nor used on masks. Drop those options."
            )
        return identity_splits(
            name,
            pool,
            test,
            holdout_classes,
            val_fraction=val_fraction,
            seed=seed,
            per_class=per_class,
        )
    if test is None:
        fraction = TEST_FRACTION if test_fraction is None else test_fraction
        if pool.labels.ndim > 1:  # masks: no class per image to stratify by
            pool_idx, test_idx = random_split(len(pool), fraction, TEST_SPLIT_SEED)
        else:
            pool_idx, test_idx = stratified_split(pool.labels, fraction, TEST_SPLIT_SEED)
        pool, test = pool.subset(pool_idx), pool.subset(test_idx)
    if pool.labels.ndim > 1:  # masks: no class per image to select or stratify by
        if classes is not None or per_class is not None:
            raise ConfigError(
                f"{name} labels every pixel, so classes and per_class (which pick images by "
                "their class) do not apply; drop them."
            )
        train_idx, val_idx = random_split(len(pool), val_fraction, seed)
        return DataSplits(name, pool.subset(train_idx), pool.subset(val_idx), test, pool.classes)
    if classes is not None:
        pool, test = select_classes(pool, classes), select_classes(test, classes)
    if per_class is not None:
        pool = limit_per_class(pool, per_class, seed)
    train_idx, val_idx = stratified_split(pool.labels, val_fraction, seed)
    return DataSplits(name, pool.subset(train_idx), pool.subset(val_idx), test, pool.classes)
