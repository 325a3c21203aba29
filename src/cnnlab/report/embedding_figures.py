"""Embedding figures: a t-SNE map coloured by identity, the verification ROC with its
equal-error point, and queries beside their nearest gallery images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

from cnnlab.errors import ConfigError
from cnnlab.report.figures import new_figure


def plot_tsne(
    embeddings: torch.Tensor, labels: torch.Tensor, names: Sequence[str], seed: int = 0
) -> Figure:
    """t-SNE (van der Maaten & Hinton 2008; scikit-learn) of ``embeddings``, one colour per
    identity of ``labels`` (indices into ``names``)."""
    if len(embeddings) < 5:
        raise ConfigError(f"A t-SNE map needs at least 5 embeddings, got {len(embeddings)}.")
    perplexity = min(30.0, (len(embeddings) - 1) / 3)
    points = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        embeddings.double().cpu().numpy()
    )
    present = labels.unique().tolist()
    palette = colormaps["tab10" if len(present) <= 10 else "tab20"]
    fig = new_figure(6.4, 5.2)
    ax = fig.add_subplot()
    for i, identity in enumerate(present):
        mine = (labels == identity).cpu().numpy()
        ax.scatter(*points[mine].T, s=6, color=palette(i % palette.N), label=names[identity])
    if len(present) <= 20:
        ax.legend(fontsize=7, markerscale=2, loc="best")
    ax.set_title(f"t-SNE of {len(points)} embeddings", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def plot_roc(fpr: np.ndarray, tpr: np.ndarray, eer: float, auc: float) -> Figure:
    """Verification ROC (true accept rate against false accept rate) with the EER point."""
    fig = new_figure(4.8, 4.4)
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, lw=1.5, label=f"ROC (AUC {auc:.3f})")
    ax.plot([0, 1], [1, 0], ls=":", color="grey", lw=1, label="FPR = FNR")
    ax.plot([eer], [1 - eer], "o", color="crimson", label=f"EER {eer:.3f}")
    ax.set_xlabel("false accept rate (different identities judged the same)")
    ax.set_ylabel("true accept rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _show(ax, image: torch.Tensor, title: str, colour: str = "black") -> None:
    array = image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()
    ax.imshow(array[:, :, 0] if array.shape[2] == 1 else array, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=7, color=colour)
    ax.axis("off")


def plot_retrieval(
    queries: torch.Tensor,
    query_names: Sequence[str],
    neighbours: torch.Tensor,
    neighbour_names: Sequence[Sequence[str]],
    distances: torch.Tensor,
) -> Figure:
    """One row per query: the query image, then its nearest gallery images (``(Q, K, C, H,
    W)`` in [0, 1]) with identity and distance, green when the identity is the query's."""
    if len(queries) == 0 or neighbours.shape[:2] != distances.shape:
        raise ConfigError("Need queries and a (queries, k) grid of neighbours and distances.")
    k = neighbours.shape[1]
    fig = new_figure(1.3 * (k + 1), 1.45 * len(queries) + 0.3)
    axes = fig.subplots(len(queries), k + 1, squeeze=False)
    for row, name in enumerate(query_names):
        _show(axes[row, 0], queries[row], f"query: {name}")
        for col in range(k):
            found = neighbour_names[row][col]
            colour = "green" if found == name else "crimson"
            title = f"{found} ({distances[row, col]:.2f})"
            _show(axes[row, col + 1], neighbours[row, col], title, colour)
    return fig
