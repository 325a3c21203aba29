"""Activation clustering: a second backdoor detector, beside spectral signatures.

Within each training label, the last hidden layer's activations are reduced to
a few dimensions and split into two clusters by k-means.  A clean
label splits into two natural halves; a poisoned label splits into its clean
images and the triggered ones, which the network recognises by the trigger and
not by the class's features, so one cluster is small and well separated.
Chen et al. judge a split by the smaller cluster's relative size (poisoned if
at most about 35 %) or by its silhouette score; both are returned per label.

The reduction is ``'pca'`` by default, as in the reference implementation
(IBM's Adversarial Robustness Toolbox, ``ActivationDefence``: PCA to 10
dimensions), or the paper's ``'ica'``.  On LeNet-5 with ReLU trained on
digits with 4 % poisoned (tests/attack/test_activation_clustering.py) the
target label's 2-means split after PCA puts 46 of its 52 poisoned images in
the smaller cluster and nothing else; after ICA the split follows another
direction and holds 21 of them.

In a ReLU network some penultimate units are dead for a whole label (always
zero): constant features that carry no information and make ICA's whitening
divide by a zero variance.  They are dropped per label before the ICA, and
the ICA keeps at most as many components as the remaining features have
independent directions (the numerical rank), so that a rank-deficient label
is reduced instead of producing NaNs.

Reference
---------
Chen, Carvalho, Baracaldo, Ludwig, Edwards, Lee, Molloy & Srivastava (2019).
Detecting backdoor attacks on deep neural networks by activation clustering.
SafeAI workshop at AAAI, arXiv:1811.03728, Sec. 3 (ICA to 10 dimensions,
2-means per label; relative size and silhouette analyses).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA, FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score
from torch import nn

from cnnlab.attack.poison import penultimate_features
from cnnlab.errors import ConfigError, check_choice, check_positive

REDUCTIONS = ("pca", "ica")


@dataclass(frozen=True)
class ActivationClusters:
    """The 2-means split of every label's activations.

    ``smaller[i]`` says whether sample ``i`` fell in the smaller cluster of its
    label; ``relative_size[c]`` and ``silhouette[c]`` describe label ``c``'s split
    (NaN for a label absent from the data).
    """

    labels: torch.Tensor
    smaller: torch.Tensor
    relative_size: torch.Tensor
    silhouette: torch.Tensor

    def suspicious_labels(
        self, max_relative_size: float = 0.35, min_silhouette: float | None = None
    ) -> torch.Tensor:
        """Labels whose smaller cluster is at most ``max_relative_size`` of the label
        (Chen et al.'s size analysis) and, when given, separated by a silhouette
        score of at least ``min_silhouette``."""
        if not 0 < max_relative_size <= 0.5:
            raise ConfigError(
                f"max_relative_size must be in (0, 0.5] (the smaller of two clusters), "
                f"got {max_relative_size!r}."
            )
        suspicious = self.relative_size <= max_relative_size
        if min_silhouette is not None:
            suspicious &= self.silhouette >= min_silhouette
        return suspicious.nonzero().flatten()

    def flagged(
        self, max_relative_size: float = 0.35, min_silhouette: float | None = None
    ) -> torch.Tensor:
        """Boolean mask of the samples in the smaller cluster of a suspicious label."""
        suspicious = self.suspicious_labels(max_relative_size, min_silhouette)
        return self.smaller & torch.isin(self.labels, suspicious)


def activation_clustering(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    components: int = 10,
    batch_size: int = 512,
    seed: int = 0,
    reduce: str = "pca",
) -> ActivationClusters:
    """Split each label's penultimate activations in two (Chen et al. 2019, Sec. 3).

    ``images`` are the (possibly poisoned) training images in [0, 1] and
    ``labels`` their (possibly flipped) labels.  Each label's activations are
    reduced to ``components`` dimensions with PCA (``reduce='pca'``) or FastICA
    (``'ica'``), then clustered by k-means with k = 2.  FastICA runs its default
    200 iterations; where it has not converged by then its unmixing is still a
    linear projection that serves the clustering, so the convergence warning is
    not passed on.
    """
    check_positive("components", components)
    check_choice("reduction", reduce, REDUCTIONS)
    if len(images) != len(labels):
        raise ConfigError(f"{len(images)} images but {len(labels)} labels; give one label each.")
    features = penultimate_features(model, images, batch_size).double().cpu().numpy()
    labels = labels.cpu()
    count = int(labels.max()) + 1 if len(labels) else 0
    smaller = torch.zeros(len(labels), dtype=torch.bool)
    relative_size = torch.full((count,), float("nan"), dtype=torch.float64)
    silhouette = torch.full((count,), float("nan"), dtype=torch.float64)
    for label in labels.unique().tolist():
        rows = (labels == label).nonzero().flatten()
        if len(rows) < 4:  # too few to split and score
            continue
        varying = _informative(features[rows.numpy()])
        dims = min(components, np.linalg.matrix_rank(varying - varying.mean(0)), len(rows) - 1)
        if dims < 1:  # every unit constant on this label: nothing to split
            continue
        if reduce == "pca":
            points = PCA(dims, random_state=seed).fit_transform(varying)
        else:
            ica = FastICA(dims, whiten="unit-variance", random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                points = ica.fit_transform(varying)
        assignment = KMeans(2, n_init=10, random_state=seed).fit_predict(points)
        sizes = np.bincount(assignment, minlength=2)
        minor = int(sizes.argmin())
        smaller[rows[torch.from_numpy(assignment == minor)]] = True
        relative_size[label] = sizes[minor] / len(rows)
        silhouette[label] = silhouette_score(points, assignment) if sizes.min() > 0 else 0.0
    return ActivationClusters(labels, smaller, relative_size, silhouette)


def _informative(features: np.ndarray) -> np.ndarray:
    """The columns of ``features`` that vary (dead ReLU units are constant), (N, D')."""
    spread = features.std(axis=0)
    return features[:, spread > 1e-9 * max(float(spread.max()), 1e-300)]
