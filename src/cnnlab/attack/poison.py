"""Backdoors by data poisoning (BadNets), a detector and a mitigation.

A trigger (a small patch, or a pattern blended over the whole image) is
stamped onto a fraction of the training images, whose labels are set to a
target class.  A model trained on the result behaves normally on clean images
and predicts the target whenever the trigger is present.

References
----------
Gu, Dolan-Gavitt & Garg (2017). BadNets: identifying vulnerabilities in the
machine learning model supply chain. arXiv:1708.06733, Sec. 3-4 (patch trigger).
Chen, Liu, Li, Lu & Song (2017). Targeted backdoor attacks on deep learning
systems using data poisoning. arXiv:1712.05526, Sec. 4.2 (blended trigger,
x′ = (1 − α)·x + α·pattern).
Tran, Li & Madry (2018). Spectral signatures in backdoor attacks. NeurIPS,
Algorithm 1 (detector).
Liu, Dolan-Gavitt & Garg (2018). Fine-pruning: defending against backdooring
attacks on deep neural networks. RAID, Sec. 4-5 (mitigation).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from cnnlab.attack.base import check_batch
from cnnlab.attack.evaluate import predict
from cnnlab.data.datasets import DataSplits, TensorImageDataset
from cnnlab.errors import ConfigError, check_choice, check_positive
from cnnlab.nn.hooks import hooks
from cnnlab.tasks.classification import Classification
from cnnlab.train.config import TrainConfig
from cnnlab.train.trainer import Trainer

TRIGGERS = ("patch", "blend")


@dataclass(frozen=True)
class Trigger:
    """A backdoor trigger.

    ``'patch'``: a ``size`` × ``size`` black-and-white checkerboard in the
    bottom-right corner (BadNets).  ``'blend'``: ``(1 − alpha)·x + alpha·p``
    with a fixed uniform-noise pattern p drawn from ``seed`` (Chen et al. 2017).
    """

    kind: str = "patch"
    size: int = 4
    alpha: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("trigger", self.kind, TRIGGERS)
        check_positive("size", self.size)
        if not 0 < self.alpha <= 1:
            raise ConfigError(f"alpha must be in (0, 1], got {self.alpha!r}.")

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """The images (N, C, H, W) in [0, 1] with the trigger stamped on."""
        _, c, h, w = images.shape
        if self.kind == "blend":
            generator = torch.Generator().manual_seed(self.seed)
            pattern = torch.rand((c, h, w), generator=generator).to(images.device, images.dtype)
            return (1 - self.alpha) * images + self.alpha * pattern
        if self.size >= min(h, w):
            raise ConfigError(f"A {self.size}-pixel patch does not fit {h}x{w} images.")
        grid = torch.arange(self.size, device=images.device)
        checker = ((grid[:, None] + grid[None, :]) % 2).to(images.dtype)
        stamped = images.clone()
        stamped[:, :, h - self.size :, w - self.size :] = checker
        return stamped


def poison_dataset(
    dataset: TensorImageDataset,
    trigger: Trigger,
    target: int,
    fraction: float,
    *,
    seed: int = 0,
) -> tuple[TensorImageDataset, torch.Tensor]:
    """A copy of ``dataset`` with ``fraction`` of its images triggered and relabelled ``target``.

    The poisoned images are drawn (by ``seed``) from the classes other than
    ``target``.  Returns the poisoned data set and the indices of the poisoned samples.
    """
    if not 0 < fraction < 1:
        raise ConfigError(f"fraction must be in (0, 1), got {fraction!r}.")
    if not 0 <= target < len(dataset.classes):
        raise ConfigError(f"target must be a class index in [0, {len(dataset.classes)}).")
    candidates = (dataset.labels != target).nonzero().flatten()
    count = max(1, round(fraction * len(dataset)))
    if count > len(candidates):
        raise ConfigError(f"Cannot poison {count} images: only {len(candidates)} are not {target}.")
    order = torch.randperm(len(candidates), generator=torch.Generator().manual_seed(seed))
    chosen = candidates[order[:count]].sort().values
    images, labels = dataset.images.clone(), dataset.labels.clone()
    triggered = trigger.apply(images[chosen].float() / 255)
    images[chosen] = (triggered * 255).round().clamp(0, 255).to(torch.uint8)
    labels[chosen] = target
    return TensorImageDataset(images, labels, dataset.classes), chosen


def attack_success_rate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    trigger: Trigger,
    target: int,
    batch_size: int = 512,
) -> float:
    """Fraction of the images not of class ``target`` that the trigger turns into ``target``."""
    images, labels = check_batch(images, labels)
    keep = labels != target
    if not keep.any():
        raise ConfigError("attack_success_rate needs images of classes other than the target.")
    predictions = predict(model, trigger.apply(images[keep]), batch_size)
    return (predictions == target).float().mean().item()


def _last_module(model: nn.Module, kind: type[nn.Module]) -> nn.Module:
    found = [m for m in model.modules() if isinstance(m, kind)]
    if not found:
        raise ConfigError(f"The model has no {kind.__name__} layer.")
    return found[-1]


@torch.no_grad()
def penultimate_features(
    model: nn.Module, images: torch.Tensor, batch_size: int = 512
) -> torch.Tensor:
    """The input of the model's last linear layer (its learned representation), (N, D)."""
    layer = _last_module(model, nn.Linear)
    captured: list[torch.Tensor] = []
    with hooks(model, pre={layer: lambda m, inputs: captured.append(inputs[0])}):
        predict(model, images, batch_size)
    return torch.cat(captured).flatten(1)


def spectral_signature_scores(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512
) -> torch.Tensor:
    """Outlier score per sample (Tran et al. 2018, Algorithm 1).

    Within each (training) label, centre the representations R and score each
    sample by its squared projection onto the top right singular vector of the
    centred R: poisoned samples, which share a feature the clean ones lack,
    stand out along that direction.
    """
    features = penultimate_features(model, images, batch_size).double()
    scores = torch.zeros(len(images), dtype=torch.float64, device=features.device)
    for label in labels.unique():
        rows = (labels == label).nonzero().flatten()
        centred = features[rows] - features[rows].mean(0)
        top = torch.linalg.svd(centred, full_matrices=False).Vh[0]
        scores[rows] = (centred @ top) ** 2
    return scores.float()


def flag_outliers(scores: torch.Tensor, labels: torch.Tensor, fraction: float) -> torch.Tensor:
    """Flag the ⌈1.5·fraction·n_c⌉ highest scores of each label (Tran et al.'s removal rule)."""
    if not 0 < fraction < 1:
        raise ConfigError(f"fraction must be in (0, 1), got {fraction!r}.")
    flagged = torch.zeros(len(scores), dtype=torch.bool, device=scores.device)
    for label in labels.unique():
        rows = (labels == label).nonzero().flatten()
        count = min(len(rows), math.ceil(1.5 * fraction * len(rows)))
        flagged[rows[scores[rows].topk(count).indices]] = True
    return flagged


def fine_prune(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    fraction: float = 0.5,
    epochs: int = 2,
    lr: float = 0.01,
    batch_size: int = 64,
    seed: int = 0,
) -> nn.Module:
    """Fine-pruning (Liu et al. 2018): prune dormant channels, then fine-tune on clean data.

    The ``fraction`` of the last convolution's output channels with the lowest
    mean activation on the clean ``images`` are removed (their weights and
    bias set to zero, kept at zero during fine-tuning); the pruned copy is
    then trained for ``epochs`` with SGD (momentum 0.9) on ``images``,
    ``labels`` (as 8-bit pixels, like every training set), through the
    Trainer's step.  Backdoor neurons tend to be dormant on clean inputs, so
    pruning them, and fine-tuning the rest, removes much of the backdoor.
    Returns the pruned, fine-tuned copy in eval mode; ``model`` and the global
    random state are untouched.
    """
    if not 0 < fraction < 1:
        raise ConfigError(f"fraction must be in (0, 1), got {fraction!r}.")
    images, labels = check_batch(images, labels)
    pruned = copy.deepcopy(model).eval()
    conv = _last_module(pruned, nn.Conv2d)
    captured: list[torch.Tensor] = []
    with hooks(pruned, {conv: lambda m, i, out: captured.append(out.mean((0, 2, 3)))}):
        for start in range(0, len(images), batch_size):
            predict(pruned, images[start : start + batch_size])
    activation = torch.stack(captured).mean(0)
    dormant = activation.argsort()[: int(fraction * len(activation))]
    keep = torch.ones(len(activation), device=activation.device)
    keep[dormant] = 0
    prune.custom_from_mask(conv, "weight", keep.view(-1, 1, 1, 1).expand_as(conv.weight))
    if conv.bias is not None:
        prune.custom_from_mask(conv, "bias", keep)
    _fine_tune(pruned, images, labels, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    prune.remove(conv, "weight")
    if conv.bias is not None:
        prune.remove(conv, "bias")
    return pruned.eval()


class _GivenModel(Classification):
    """Classification of a model that already exists (fine-tuning it in place)."""

    def __init__(self, model: nn.Module, config: TrainConfig, data: DataSplits):
        super().__init__(config, data)
        self.model = model

    def build_model(self, config, data, mean, std) -> nn.Module:
        return self.model


def _fine_tune(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> None:
    """Train ``model`` in place on ``images``, ``labels`` with SGD (momentum 0.9),
    the Trainer's step at a constant rate, no run directory."""
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    pixels = (images.detach() * 255).round().to(torch.uint8).cpu()
    train = TensorImageDataset(pixels, labels.cpu(), classes)
    empty = train.subset(torch.zeros(0, dtype=torch.long))
    data = DataSplits("fine-pruning", train, empty, empty, classes)
    config = TrainConfig(
        optimizer="sgd",
        lr=lr,
        momentum=0.9,
        epochs=epochs,
        batch_size=batch_size,
        scheduler="constant",
        warmup_epochs=0.0,
        label_smoothing=0.0,
        normalization="none",
        channels_last=False,
        seed=seed,
        device=str(images.device),
    )
    with torch.random.fork_rng(devices=[]):
        trainer = Trainer(config, task=_GivenModel(model, config, data), data=data, quiet=True)
        for _ in range(epochs):
            trainer.train_epoch()
