"""Metric-learning losses: embeddings of one identity close, of different identities apart.

Every loss takes L2-normalized embeddings ``(N, D)`` and integer identity
labels ``(N,)`` and returns a scalar:

- `ContrastiveLoss` (siamese pairs, Hadsell, Chopra & LeCun 2006, Eq. 4):
  every positive pair pulled below ``pos_margin``, every negative pair pushed
  beyond ``neg_margin``.
- `TripletLoss` (Schroff et al. 2015, FaceNet, Eq. 1):
  ``L = max(0, m + d(A,P) - d(A,N))`` over triplets mined in the batch:
  ``batch-hard`` (the farthest positive and the nearest negative of each anchor;
  Hermans, Beyer & Leibe 2017, Eq. 5), ``batch-hard-soft`` (the same triplets
  with Hermans et al.'s soft margin ``ln(1 + exp(d(A,P) - d(A,N)))``, Sec. 3.1)
  or ``semi-hard`` (every triplet with ``d(A,P) < d(A,N) <= d(A,P) + m``,
  FaceNet Sec. 3.2).
- `AngularMarginLoss`: softmax over scaled cosines to class centres with
  the combined margin ``cos(m1·θ + m2) - m3`` on the true class (Deng et al.
  2019, ArcFace, Eq. 4): ArcFace is ``m2``, CosFace ``m3`` (Wang et al. 2018,
  Eq. 4), SphereFace ``m1`` (Liu et al. 2017, Eq. 6).
- `SoftmaxLoss`: the baseline, a linear classifier on the embedding
  trained with cross-entropy.

Distances are Euclidean.  Conventions follow pytorch-metric-learning (the
tests' oracle): pair and triplet losses are averaged over *all* pairs/triplets
that take part (pml's ``MeanReducer``; its default ``AvgNonZeroReducer``
averages over the non-zero ones only), positive and negative pair terms are
averaged separately and added, margins are in radians (pml's ArcFace takes
degrees).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError

LOSSES = ("softmax", "contrastive", "triplet", "arcface", "cosface", "sphereface")
MININGS = ("batch-hard", "semi-hard", "batch-hard-soft")
DEFAULT_MARGINS = {
    "contrastive": 1.0,  # negative pairs beyond distance 1 (unit vectors: 0..2)
    "triplet": 0.2,  # FaceNet's α
    "arcface": 0.5,  # radians (ArcFace Sec. 3.2)
    "cosface": 0.35,  # CosFace Sec. 4.2
    "sphereface": 4,  # SphereFace's m (an integer)
}


def _distances(embeddings: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of every pair of rows, ``(N, N)``."""
    return torch.cdist(embeddings, embeddings)


def _pair_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(positive, negative)`` boolean ``(N, N)`` masks; a sample is not its own positive."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _mean(values: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """The mean of ``values``; zero (still attached to the graph) when there are none."""
    return values.mean() if values.numel() else anchor.sum() * 0.0


class ContrastiveLoss(nn.Module):
    """Contrastive loss over all pairs of the batch (Hadsell et al. 2006, Eq. 4).

    ``mean_pos relu(d - pos_margin)^p + mean_neg relu(neg_margin - d)^p``.  With
    ``power=2`` and ``pos_margin=0`` this is the paper's
    ``½D² + ½max(0, m - D)²`` up to the factor ½ and the separate averaging of
    positive and negative pairs (which keeps the many negative pairs of a batch
    from drowning the few positive ones); ``power=1`` is pml's ContrastiveLoss.
    """

    def __init__(self, neg_margin: float = 1.0, pos_margin: float = 0.0, power: int = 2):
        super().__init__()
        self.neg_margin, self.pos_margin, self.power = neg_margin, pos_margin, power

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        dist = _distances(embeddings)
        positive, negative = _pair_masks(labels)
        pos = F.relu(dist[positive] - self.pos_margin) ** self.power
        neg = F.relu(self.neg_margin - dist[negative]) ** self.power
        return _mean(pos, embeddings) + _mean(neg, embeddings)


class TripletLoss(nn.Module):
    """``max(0, m + d(A,P) - d(A,N))`` over mined triplets, averaged (FaceNet, Eq. 1).

    ``batch-hard``: one triplet per anchor that has a positive and a negative in
    the batch, its farthest positive and nearest negative (Hermans et al. 2017,
    Eq. 5; pml's BatchHardMiner).  ``batch-hard-soft``: the same triplets with the
    soft margin ``softplus(d(A,P) - d(A,N))`` in place of the hinge, which keeps
    pulling satisfied triplets closer and has no margin to tune (Hermans et al.
    2017, Sec. 3.1; pml's ``TripletMarginLoss(margin=0, smooth_loss=True)``); the
    margin is not used.  ``semi-hard`` (the default): every
    ``(A, P, N)`` with ``0 < d(A,N) - d(A,P) <= m`` (FaceNet Sec. 3.2; pml's
    ``TripletMarginMiner(type_of_triplets="semihard")``).  The hardest negatives
    "can in practice lead to ... a collapsed model (i.e. f(x) = 0)" early in
    training (FaceNet Sec. 3.2); batch-hard with Adam at lr 2e-3 collapsed so in
    the Fashion-MNIST benchmark.
    """

    def __init__(self, margin: float = 0.2, mining: str = "semi-hard"):
        super().__init__()
        if mining not in MININGS:
            raise ConfigError(
                f"triplet mining {mining!r} is unknown; choose one of {', '.join(MININGS)}."
            )
        self.margin, self.mining = margin, mining

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        dist = _distances(embeddings)
        positive, negative = _pair_masks(labels)
        if self.mining.startswith("batch-hard"):
            usable = positive.any(1) & negative.any(1)
            hardest_pos = dist.masked_fill(~positive, -math.inf).amax(1)
            hardest_neg = dist.masked_fill(~negative, math.inf).amin(1)
            gap = (hardest_pos - hardest_neg)[usable]
            soft = self.mining == "batch-hard-soft"
            return _mean(F.softplus(gap) if soft else F.relu(self.margin + gap), embeddings)
        gap = dist[:, None, :] - dist[:, :, None]  # [a, p, n] = d(a, n) - d(a, p)
        valid = positive[:, :, None] & negative[:, None, :]
        semi_hard = valid & (gap > 0) & (gap <= self.margin)
        return _mean(F.relu(self.margin - gap[semi_hard]), embeddings)


class AngularMarginLoss(nn.Module):
    """Softmax with the combined angular margin ``s·(cos(m1·θ_y + m2) - m3)``.

    ``θ_y`` is the angle between an embedding and its class centre ``W_y``
    (both normalized); other classes keep ``s·cos θ_j`` (ArcFace, Eq. 4).
    Beyond ``m1·θ + m2 = π`` the target logit is continued so that it keeps
    falling with θ: ``cos θ - m2·sin m2`` when ``m1 = 1`` (InsightFace and pml's
    ArcFace), SphereFace's ``ψ = (-1)^k cos(m1·θ + m2) - 2k`` with
    ``k = ⌊(m1·θ + m2)/π⌋`` otherwise (Liu et al. 2017, Eq. 6).  Unlike the
    original SphereFace the embeddings are normalized and scaled by ``s``.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int,
        scale: float = 30.0,
        m1: int = 1,
        m2: float = 0.0,
        m3: float = 0.0,
    ):
        super().__init__()
        if int(m1) != m1 or m1 < 1:
            raise ConfigError(f"the multiplicative margin m1 must be an integer >= 1, got {m1!r}.")
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        nn.init.xavier_normal_(self.weight)
        self.scale, self.m1, self.m2, self.m3 = scale, int(m1), m2, m3

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The scaled logits with the margin applied to each sample's true class."""
        cosine = F.normalize(embeddings, dim=1) @ F.normalize(self.weight, dim=1).T
        target = cosine.gather(1, labels[:, None]).squeeze(1)
        theta = torch.acos(target.clamp(-1 + 1e-7, 1 - 1e-7))
        phi = self.m1 * theta + self.m2
        if self.m1 == 1:
            fallback = torch.cos(theta) - self.m2 * math.sin(self.m2)
            margin = torch.where(phi <= math.pi, torch.cos(phi), fallback)
        else:
            k = torch.floor(phi.detach() / math.pi)
            margin = (1 - 2 * (k % 2)) * torch.cos(phi) - 2 * k
        cosine = cosine.scatter(1, labels[:, None], (margin - self.m3)[:, None])
        return self.scale * cosine

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.logits(embeddings, labels), labels)


class SoftmaxLoss(nn.Module):
    """The softmax baseline: cross-entropy of a linear classifier on the embedding."""

    def __init__(self, num_classes: int, embedding_dim: int):
        super().__init__()
        self.classifier = nn.Linear(embedding_dim, num_classes)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.classifier(embeddings), labels)


def build_metric_loss(
    name: str,
    num_classes: int,
    embedding_dim: int,
    *,
    margin: float | None = None,
    scale: float = 30.0,
    mining: str = "semi-hard",
) -> nn.Module:
    """The loss ``name`` (one of `LOSSES`); ``margin=None`` takes its usual value."""
    if name not in LOSSES:
        raise ConfigError(f"metric loss {name!r} is unknown; choose one of {', '.join(LOSSES)}.")
    if name == "softmax":
        if margin is not None:
            raise ConfigError("the softmax loss has no margin; drop --margin.")
        return SoftmaxLoss(num_classes, embedding_dim)
    m = DEFAULT_MARGINS[name] if margin is None else margin
    if name == "contrastive":
        return ContrastiveLoss(neg_margin=m)
    if name == "triplet":
        return TripletLoss(margin=m, mining=mining)
    if name == "sphereface" and (int(m) != m or m < 2):
        raise ConfigError(
            f"sphereface multiplies the angle by its margin, an integer >= 2; got {m!r}."
        )
    shape = {"arcface": {"m2": m}, "cosface": {"m3": m}, "sphereface": {"m1": int(m)}}[name]
    return AngularMarginLoss(num_classes, embedding_dim, scale, **shape)
