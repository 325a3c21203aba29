"""Data sets, splits, batches and normalization statistics.

``load_data(name)`` returns a `DataSplits` with ``train``, ``val`` and
``test`` sets of uint8 images; ``make_loader`` turns one into float batches in
[0, 1].  ``list_datasets()`` names the data sets: digits, mnist, fashion-mnist,
kmnist, cifar10, cifar100, imagefolder.

Split rules
-----------
- Data sets with an official test split (mnist, fashion-mnist, kmnist, cifar10,
  cifar100) use it as ``test``.  ``val`` holds out ``val_fraction`` of every class
  of the official training split, chosen by ``seed``; ``train`` is the rest.
- Data sets without one (digits, imagefolder) first hold out a fixed, stratified
  20 % as ``test`` (``test_fraction``; 0 keeps none), drawn with a constant seed
  (``splits.TEST_SPLIT_SEED``) so the test set is the same in every run whatever
  ``seed`` is; ``val`` is then ``val_fraction`` of each class of the rest, chosen
  by ``seed``.
- All splits are stratified and deterministic (`cnnlab.data.splits`); the
  three sets are disjoint and keep the original sample order.

Files are looked up in ``data_dir`` and then ``data_dir/<name>`` (default
``$CNNLAB_DATA/<name>``, ``~/.cache/cnnlab/datasets/<name>``); ``download=True``
fetches missing official files (`cnnlab.data.download`).
"""

from cnnlab.data.datasets import DataSplits, FolderImageDataset, TensorImageDataset
from cnnlab.data.image import load_image
from cnnlab.data.loader import make_loader
from cnnlab.data.registry import list_datasets, load_data
from cnnlab.data.stats import channel_stats, mean_image

__all__ = [
    "DataSplits",
    "FolderImageDataset",
    "TensorImageDataset",
    "channel_stats",
    "list_datasets",
    "load_data",
    "load_image",
    "make_loader",
    "mean_image",
]
