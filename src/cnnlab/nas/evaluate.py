"""Scoring a candidate cell: build a small network from it, train briefly, measure.

Architecture search ranks candidates by a cheap proxy of their final accuracy
(Zoph et al. 2018 and Real et al. 2019 train each child network briefly on
CIFAR-10 and score it on held-out images): here a network of one normal cell
per stack and a few filters, trained for a few epochs on a subset of the
training images and scored on held-out validation images.  Training is seeded,
so the same genotype and seed give the same accuracy on the CPU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from cnnlab.data import DataSplits, TensorImageDataset, channel_stats, make_loader
from cnnlab.errors import ConfigError
from cnnlab.models.nasnet import NASNet
from cnnlab.models.nasnet_genotype import Genotype
from cnnlab.nn.norm import Normalize
from cnnlab.tasks.classification import Classification
from cnnlab.train.config import TrainConfig
from cnnlab.train.trainer import Trainer


@dataclass(frozen=True)
class ProxyTask:
    """How a candidate is trained: network size, images, epochs and optimizer."""

    cells: int = 1
    filters: int = 8
    epochs: int = 1
    batch_size: int = 32
    lr: float = 3e-3

    def __post_init__(self) -> None:
        for name in ("cells", "filters", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")


class Score(NamedTuple):
    """Validation accuracy (fraction) and parameter count of a candidate."""

    accuracy: float
    params: int


def proxy_data(data: DataSplits, subset: int | None, seed: int) -> DataSplits:
    """``subset`` random training images and subset/5 (at least one per class) validation images.

    ``None`` keeps the splits whole.  The draw depends on ``seed`` only.
    """
    if subset is None:
        return data
    if subset < len(data.classes):
        raise ConfigError(
            f"subset must hold at least one image per class ({len(data.classes)}), got {subset}."
        )
    generator = torch.Generator().manual_seed(seed)
    train = torch.randperm(len(data.train), generator=generator)[:subset]
    val = torch.randperm(len(data.val), generator=generator)[: max(subset // 5, len(data.classes))]
    return dataclasses.replace(data, train=data.train.subset(train), val=data.val.subset(val))


def build_network(
    genotype: Genotype,
    data: DataSplits,
    task: ProxyTask,
    mean: torch.Tensor | None = None,
    std: torch.Tensor | None = None,
) -> nn.Module:
    """The proxy network of ``genotype`` for ``data``: normalization, stem, cells, head.

    ``mean`` and ``std`` default to the training split's channel statistics.
    """
    if mean is None or std is None:
        mean, std = channel_stats(data.train)
    channels, size, _ = data.input_shape
    network = NASNet(
        genotype,
        num_classes=len(data.classes),
        in_chans=channels,
        cells=task.cells,
        filters=task.filters,
        stem="cifar",
        stem_multiplier=2.0,
    )
    if size < network.min_input_size:
        raise ConfigError(
            f"The search network needs images of at least {network.min_input_size} pixels, "
            f"got {size}."
        )
    return nn.Sequential(Normalize(mean, std), network)


class ProxyClassification(Classification):
    """Classification of one genotype's proxy network: the Task a candidate trains through."""

    def __init__(self, genotype: Genotype, proxy: ProxyTask, config: TrainConfig, data):
        super().__init__(config, data)
        self.genotype, self.proxy = genotype, proxy

    def build_model(self, config, data, mean, std) -> nn.Module:
        return build_network(self.genotype, data, self.proxy, mean, std)


def proxy_config(task: ProxyTask, seed: int) -> TrainConfig:
    """The Trainer's configuration of a proxy run: Adam at a constant rate, plain
    cross-entropy, no augmentation, NCHW (so that accuracies repeat across layouts)."""
    return TrainConfig(
        model="nasnet-proxy",
        optimizer="adam",
        lr=task.lr,
        epochs=task.epochs,
        batch_size=task.batch_size,
        scheduler="constant",
        warmup_epochs=0.0,
        label_smoothing=0.0,
        seed=seed,
        channels_last=False,
    )


def evaluate_genotype(genotype: Genotype, data: DataSplits, task: ProxyTask, seed: int) -> Score:
    """Train the proxy network of ``genotype`` on ``data.train``, score it on ``data.val``.

    The training is the Trainer's (`train_epoch`),
    without a run directory.
    """
    config = proxy_config(task, seed)
    proxy = ProxyClassification(genotype, task, config, data)
    trainer = Trainer(config, task=proxy, data=data, quiet=True)
    for _ in range(task.epochs):
        trainer.train_epoch()
    model = trainer.model
    params = sum(p.numel() for p in model.parameters())
    recalibrate_batch_norm(model, data.train, task.batch_size)
    return Score(accuracy(model, data.val, task.batch_size), params)


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, dataset: TensorImageDataset, batch_size: int) -> None:
    """Replace the running statistics of every batch norm by their averages over ``dataset``.

    After a few hundred steps the exponential running averages still mix in the
    statistics of the first, very different weights, and the evaluation of a
    briefly trained network is then close to chance; one pass over the training
    images with the final weights gives the statistics it will see.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the pass
    model.train()
    for x, _ in make_loader(dataset, batch_size, shuffle=False):
        model(x)
    for norm in norms:
        norm.momentum = 0.1


@torch.no_grad()
def accuracy(model: nn.Module, dataset: TensorImageDataset, batch_size: int) -> float:
    """Fraction of ``dataset`` that ``model`` classifies correctly (eval mode)."""
    model.eval()
    correct = 0
    for x, y in make_loader(dataset, batch_size, shuffle=False):
        correct += int((model(x).argmax(dim=1) == y).sum())
    return correct / len(dataset)
