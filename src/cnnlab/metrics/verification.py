"""Evaluating embeddings: verification (same identity or not?) and N-way K-shot identification.

Verification scores every pair of images by the cosine similarity of their
embeddings; sweeping a threshold gives the ROC curve (scikit-learn's
``roc_curve``) and the *equal error rate*, where the false accept rate equals
the false reject rate (FPR = FNR = 1 - TPR), linearly interpolated between the
two ROC points that bracket it.

Identification follows the few-shot protocol (Vinyals et al. 2016, Sec. 4;
Snell et al. 2017): an episode draws N identities, K support images and some
query images of each; a query is given the identity whose prototype (the mean
of its K support embeddings, Snell et al. 2017 Eq. 1) is nearest in Euclidean
distance.  With K = 1 this is one-shot nearest-neighbour recognition.  The
accuracy is pooled over seeded episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve

from cnnlab.errors import DataError


def pair_scores(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and same-identity flag of every unordered pair ``i < j``."""
    unit = torch.nn.functional.normalize(embeddings.double(), dim=1)
    i, j = torch.triu_indices(len(unit), len(unit), offset=1)
    scores = (unit @ unit.T)[i, j]  # the (N, N) matrix, not N² row pairs: memory O(N²) numbers
    return scores.numpy(), (labels[i] == labels[j]).numpy()


def equal_error_rate(
    fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray
) -> tuple[float, float]:
    """``(EER, threshold)`` where the ROC crosses FPR = 1 - TPR, interpolated linearly."""
    gap = fpr - (1 - tpr)  # rises from -1 at (0, 0) to +1 at (1, 1)
    i = int(np.argmax(gap >= 0))
    if i == 0 or gap[i] == 0:
        return float(fpr[i]), float(thresholds[i])
    t = -gap[i - 1] / (gap[i] - gap[i - 1])
    eer = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    low = thresholds[i - 1] if np.isfinite(thresholds[i - 1]) else thresholds[i]
    return float(eer), float(low + t * (thresholds[i] - low))


def verification_report(embeddings: torch.Tensor, labels: torch.Tensor) -> dict:
    """ROC (``fpr``, ``tpr``), ``auc``, ``eer`` and its cosine ``eer_threshold`` of all pairs."""
    scores, same = pair_scores(embeddings, labels)
    if not same.any() or same.all():
        what = "two images of one identity" if not same.any() else "two identities"
        raise DataError(
            f"Verification needs pairs of the same and of different identities, but the "
            f"{len(labels)} images have no {what}: every identity has a single image, or "
            "there is one identity. Give at least two images of some identity and two "
            "identities."
        )
    fpr, tpr, thresholds = roc_curve(same, scores)
    eer, threshold = equal_error_rate(fpr, tpr, thresholds)
    return {
        "eer": eer,
        "eer_threshold": threshold,
        "auc": float(roc_auc_score(same, scores)),
        "pairs": len(same),
        "positive_pairs": int(same.sum()),
        "fpr": fpr,
        "tpr": tpr,
    }


@dataclass(frozen=True)
class Episode:
    """Indices of one N-way K-shot episode and the way (0..N-1) of each image."""

    support: torch.Tensor
    support_ways: torch.Tensor
    query: torch.Tensor
    query_ways: torch.Tensor


def check_shots(labels: torch.Tensor, shots: int, names: list[str] | None = None) -> None:
    """Every identity needs ``shots`` support images and one query: a clear error otherwise."""
    counts = torch.bincount(labels)
    present = counts.nonzero().flatten()
    short = [int(c) for c in present if counts[c] < shots + 1]
    if short:
        shown = [names[c] if names else c for c in short[:10]]
        raise DataError(
            f"{shots}-shot identification needs {shots + 1} images of every identity ({shots} "
            f"to enrol, one to query), but {len(short)} identities have fewer, e.g. {shown}. "
            "Add images of them or leave them out of the evaluated data."
        )


def draw_episodes(
    labels: torch.Tensor, ways: int, shots: int, episodes: int, queries: int = 15, seed: int = 0
) -> list[Episode]:
    """``episodes`` seeded N-way K-shot episodes over the identities of ``labels``.

    Each way gets ``shots`` support images and up to ``queries`` query images
    (fewer when the identity has fewer left), all distinct.
    """
    check_shots(labels, shots)
    identities = labels.unique()
    if len(identities) < ways:
        raise DataError(
            f"{ways}-way identification needs {ways} identities; the data has "
            f"{len(identities)}. Evaluate with fewer ways or on more identities."
        )
    generator = torch.Generator().manual_seed(seed)
    members = [(labels == c).nonzero().flatten() for c in identities]
    drawn = []
    for _ in range(episodes):
        chosen = torch.randperm(len(identities), generator=generator)[:ways]
        support, query, support_ways, query_ways = [], [], [], []
        for way, c in enumerate(chosen.tolist()):
            order = members[c][torch.randperm(len(members[c]), generator=generator)]
            support.append(order[:shots])
            query.append(order[shots : shots + queries])
            support_ways.append(torch.full((shots,), way))
            query_ways.append(torch.full((len(query[-1]),), way))
        drawn.append(
            Episode(
                torch.cat(support), torch.cat(support_ways), torch.cat(query), torch.cat(query_ways)
            )
        )
    return drawn


def episode_accuracy(embeddings: torch.Tensor, episodes: list[Episode]) -> float:
    """The share of queries whose nearest prototype (mean support embedding) is their own."""
    correct = total = 0
    for ep in episodes:
        ways = int(ep.support_ways.max()) + 1
        support = embeddings[ep.support]
        prototypes = torch.zeros(ways, support.shape[1], dtype=support.dtype)
        prototypes.index_add_(0, ep.support_ways, support)
        prototypes /= torch.bincount(ep.support_ways, minlength=ways)[:, None]
        nearest = torch.cdist(embeddings[ep.query], prototypes).argmin(1)
        correct += int((nearest == ep.query_ways).sum())
        total += len(ep.query)
    return correct / total


def nway_kshot_accuracy(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    ways: int = 5,
    shots: int = 1,
    episodes: int = 1000,
    queries: int = 15,
    seed: int = 0,
) -> float:
    """N-way K-shot identification accuracy over seeded episodes (see the module docstring)."""
    drawn = draw_episodes(labels, ways, shots, episodes, queries, seed)
    return episode_accuracy(embeddings, drawn)


def format_embedding_report(report: dict, digits: int = 4) -> str:
    """An embedding evaluation as text: verification and identification."""
    five = report.get("nway_5shot")
    lines = [
        f"{report.get('num_images', '?')} images of {len(report.get('identities', []))} "
        f"identities ({report.get('dataset', '?')}, {report.get('split', '?')} split)",
        f"verification: EER {report['eer']:.{digits}f}  AUC {report['auc']:.{digits}f}  "
        f"({report['pairs']} pairs, {report['positive_pairs']} of one identity)",
        f"identification: {report['ways']}-way 1-shot {report['nway_1shot']:.{digits}f}"
        + ("" if five is None else f"  5-shot {five:.{digits}f}")
        + f"  ({report['episodes']} episodes)",
    ]
    return "\n".join(lines)
