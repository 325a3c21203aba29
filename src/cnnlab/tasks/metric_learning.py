"""Metric learning: an embedding in which images of one identity lie close together.

Face recognition does not fit a softmax classifier: the identities to
recognize are not known at training time, and a new person must be added from
one photo without retraining (the one-shot setting).  The network therefore
learns an embedding ``f(x)`` on the unit sphere (FaceNet, Schroff et al. 2015,
Sec. 3) with a metric-learning loss (`cnnlab.nn.metric_losses`), and
recognition compares embeddings: verification by thresholding a similarity,
identification by the nearest enrolled identity.

`Embedding` is the `Task`: a zoo network's pooled features embedded onto the
unit sphere, with the loss's parameters beside it (`EmbeddingNet`).  The pair
and triplet losses train on PK batches by default (P identities x K images,
Hermans et al. 2017, Sec. 3; `cnnlab.data.pk_sampler`), so that every anchor
has positives and negatives in its batch.  Validation (new images of the
training identities) measures ``val_acc``, the N-way 1-shot identification
accuracy (N = 5, or the number of identities when fewer), ``val_eer`` (a
monitor that is minimized) and ``val_loss``.  The final evaluation is
`cnnlab.tasks.metric_learning_eval`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.data import DataSplits
from cnnlab.data.loader import Loader
from cnnlab.data.pk_sampler import PKLoader, pk_shape
from cnnlab.data.splits import spread_subset
from cnnlab.data.transforms import Augment, Samples, training_images
from cnnlab.errors import ConfigError, DataError
from cnnlab.metrics.verification import check_shots, nway_kshot_accuracy, verification_report
from cnnlab.tasks.embedding_run import build_embedding_net, embed, seen_identities
from cnnlab.tasks.metric_learning_eval import MAX_WAYS, evaluate_embedding
from cnnlab.train.config import TrainConfig
from cnnlab.train.task import Batch

PAIR_LOSSES = ("contrastive", "triplet")  # they need two images of every training identity
VAL_EPISODES = 300
VAL_PAIRS_IMAGES = 1000  # verification on at most this many validation images
LOSS_CHUNK = 256  # validation loss over fixed batches of this size
UNSUPPORTED = {
    "mixup": "Mixup",
    "cutmix": "CutMix",
    "teacher": "distillation",
}  # label smoothing (default 0.1) is a classifier's option: the metric losses do not use it


class Embedding:
    """Metric learning (see the module docstring)."""

    name = "embedding"
    monitors = ("val_acc", "val_loss", "val_eer")  # val_eer is minimized (cnnlab.runs.best)

    def __init__(self, config: TrainConfig, data: DataSplits):
        if data.train.labels.ndim != 1:
            raise ConfigError(
                f"the embedding task needs an identity per image, but {data.name} labels "
                "pixels; use an image data set (fashion-mnist, digits, imagefolder ...)."
            )
        used = [what for key, what in UNSUPPORTED.items() if getattr(config, key)]
        if config.adv_train != "none":
            used.append("adversarial training")
        if used:
            raise ConfigError(f"the embedding task does not support {', '.join(used)}.")
        self.seed = config.seed
        self.seen = seen_identities(config, data.classes)
        counts = torch.bincount(data.train.labels, minlength=self.seen)
        if config.loss in PAIR_LOSSES and (counts < 2).any():
            single = [data.classes[i] for i in (counts < 2).nonzero().flatten()[:10].tolist()]
            raise DataError(
                f"the {config.loss} loss needs pairs of images of one identity, but training "
                f"identities {single} have a single image. Add images of them or remove them."
            )
        self.ways = min(MAX_WAYS, len(data.val.labels.unique()))
        if self.ways < 2:
            raise DataError(
                "validation needs images of at least two identities; raise --val-fraction or "
                "give more identities."
            )
        check_shots(data.val.labels, 1, data.classes)
        self.pk = pk_shape(
            config.pk,
            pairs=config.loss in PAIR_LOSSES,
            batch_size=config.batch_size,
            identities=int((counts > 0).sum()),
        )
        self.augment = Augment(config.augment)
        if self.augment.lighting_std is not None:
            self.augment.fit(training_images(data.train))

    def build_model(
        self, config: TrainConfig, data: DataSplits, mean: torch.Tensor, std: torch.Tensor
    ) -> nn.Module:
        self.model = build_embedding_net(config, data.classes, data.input_shape, mean, std)
        return self.model

    def batches(self, loader: Loader, generator: torch.Generator, epoch: int) -> Iterator[Batch]:
        if self.pk is not None:
            loader = PKLoader(loader, *self.pk)
        for images, labels, indices in loader.with_indices():
            if self.augment:
                images = self.augment(images, generator, Samples(indices, epoch, self.seed))
            yield Batch(images, labels, labels)

    def loss(self, output: Any, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.criterion(output.float(), batch.targets), output

    def batch_metrics(self, prediction: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        return {}

    @torch.inference_mode()
    def validate(self, model: nn.Module, dataset: Any, device: torch.device) -> dict[str, float]:
        """N-way 1-shot accuracy, EER and the loss on fixed batches of ``dataset``."""
        embeddings, labels = embed(model, dataset, device)
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        losses = [
            model.criterion(embeddings[chunk].to(device), labels[chunk].to(device)).item()
            * len(chunk)
            for chunk in order.split(LOSS_CHUNK)
        ]
        shown = spread_subset(len(labels), VAL_PAIRS_IMAGES)
        return {
            "val_loss": sum(losses) / len(labels),
            "val_acc": nway_kshot_accuracy(
                embeddings, labels, self.ways, 1, VAL_EPISODES, queries=5, seed=0
            ),
            "val_eer": verification_report(embeddings[shown], labels[shown])["eer"],
        }

    def evaluate(self, run_dir: Path, split: str, device: str) -> dict[str, Any]:
        return evaluate_embedding(run_dir, split=split, device=device)
