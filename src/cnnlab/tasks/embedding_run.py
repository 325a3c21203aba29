"""The embedding network of the metric-learning task, and a trained embedding run loaded back.

`EmbeddingNet` is a zoo network's convolutional trunk (``features_only``)
under a `PooledEmbedding` head: the global average pools of its last
``embedding_scales`` feature maps, concatenated, a linear map to
``embedding_dim`` values and batch norm, L2-normalized onto the unit sphere
(FaceNet, Schroff et al. 2015, Sec. 3: ``||f(x)||_2 = 1``).  The head replaces
the network's classifier: hidden fully connected layers trained on a few
classes discard what tells unseen classes apart (issue 27 measured LeNet-5's
at 0.29-0.33 5-way 1-shot accuracy on unseen Fashion-MNIST classes, its
pooled convolutional features at 0.64).  Pooling, a linear embedding and
batch norm is the re-identification baseline's neck (Luo et al. 2019, "Bag of
tricks and a strong baseline for deep person re-identification", Sec. 3.4).
The loss's own parameters (ArcFace's class centres, the softmax baseline's
classifier) are the ``criterion`` sub-module, trained and saved with it but
not used to embed.
`load_embedding_run` rebuilds it from a run directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import runs
from cnnlab.data import DataSplits, load_data, make_loader
from cnnlab.errors import CheckpointError, ConfigError
from cnnlab.models.registry import create_model_for_input
from cnnlab.nn.metric_losses import build_metric_loss
from cnnlab.nn.norm import Normalize
from cnnlab.train.config import TrainConfig


class PooledEmbedding(nn.Module):
    """``trunk`` (``features_only``) -> GAP of its last ``scales`` maps -> linear -> batch norm."""

    def __init__(self, trunk: nn.Module, dim: int, scales: int):
        super().__init__()
        channels = trunk.feature_info.channels()
        if not 1 <= scales <= len(channels):
            raise ConfigError(
                f"embedding_scales {scales} asks for more feature maps than the model's "
                f"{len(channels)} stages; choose 1..{len(channels)}."
            )
        self.trunk, self.scales = trunk, scales
        self.fc = nn.Linear(sum(channels[-scales:]), dim)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        maps = self.trunk(images)[-self.scales :]
        return self.bn(self.fc(torch.cat([m.mean((2, 3)) for m in maps], dim=1)))


class EmbeddingNet(nn.Module):
    """``normalize -> net -> L2 normalization``; ``criterion`` holds the loss's parameters."""

    def __init__(self, normalize: Normalize, net: nn.Module, criterion: nn.Module):
        super().__init__()
        self.normalize, self.net, self.criterion = normalize, net, criterion

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(self.normalize(images)), dim=1)


def seen_identities(config: TrainConfig, classes: list[str]) -> int:
    """How many identities training sees: the classes less the held-out ones (listed last)."""
    return len(classes) - len(config.holdout_classes or ())


def build_embedding_net(
    config: TrainConfig,
    classes: list[str],
    input_shape: tuple[int, int, int],
    mean: torch.Tensor,
    std: torch.Tensor,
) -> EmbeddingNet:
    """The embedding network and loss of ``config`` for data with ``classes``."""
    trunk = create_model_for_input(
        config.model, config.embedding_dim, input_shape, features_only=True, **config.model_kwargs
    )
    net = PooledEmbedding(trunk, config.embedding_dim, config.embedding_scales)
    criterion = build_metric_loss(
        config.loss,
        seen_identities(config, classes),
        config.embedding_dim,
        margin=config.margin,
        scale=config.scale,
        mining=config.mining,
    )
    return EmbeddingNet(Normalize(mean, std), net, criterion)


@torch.inference_mode()
def embed(
    model: nn.Module, dataset: Any, device: str | torch.device = "cpu", batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(embeddings, labels)`` of every image of ``dataset``, on the CPU."""
    model.eval()
    out, labels = [], []
    for images, y in make_loader(dataset, batch_size, shuffle=False, device=device):
        out.append(model(images).float().cpu())
        labels.append(y.cpu())
    return torch.cat(out), torch.cat(labels)


@dataclass
class EmbeddingRun:
    """A trained embedding run: the network (eval mode, best weights) and its records."""

    path: Path
    model: EmbeddingNet
    config: TrainConfig
    meta: dict[str, Any]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.meta["input_shape"])

    def load_data(self, dataset: str | None = None, data_dir: str | None = None) -> DataSplits:
        """The run's identity splits, or another data set's (all of its identities unseen)."""
        if dataset is None or dataset == self.config.dataset:
            return load_data(
                self.config.dataset,
                data_dir or self.config.data_dir,
                download=self.config.download,
                **self.config.data_options(),
            )
        return load_data(dataset, data_dir)


def load_embedding_run(run_dir: str | Path) -> EmbeddingRun:
    """Load an embedding run's best weights; a run of another task is a clear error."""
    run_dir = Path(run_dir)
    meta = runs.read_meta(run_dir)
    if meta.get("task") != "embedding":
        raise CheckpointError(
            f"{run_dir} is a {meta.get('task', 'classification')} run; galleries and nearest "
            "identities need a run trained with --task embedding."
        )
    config = TrainConfig.from_dict({**runs.read_config(run_dir), "device": "cpu"})
    state = runs.load_best(run_dir, meta)
    try:
        model = build_embedding_net(
            config,
            list(meta["classes"]),
            tuple(meta["input_shape"]),
            state["normalize.mean"],
            state["normalize.std"],
        )
        model.load_state_dict(state)
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"The weights in {run_dir} do not fit the embedding model its config.yaml "
            f"describes ({exc})."
        ) from exc
    return EmbeddingRun(run_dir, model.eval(), config, meta)
