"""Out-of-distribution detection from a classifier's outputs: MSP and energy scores.

A score is higher for inputs that look in-distribution; detection quality is
the AUROC with in-distribution as the positive class (threshold-free), and the
false-positive rate on OOD inputs at 95 % true-positive rate.

References
----------
Hendrycks & Gimpel (2017). A baseline for detecting misclassified and
out-of-distribution examples in neural networks. ICLR. (Maximum softmax probability.)
Liu, Wang, Owens & Li (2020). Energy-based out-of-distribution detection.
NeurIPS, eq. (4)-(5): the negative free energy T·log Σ_i exp(z_i / T).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from cnnlab.attack.base import frozen
from cnnlab.errors import ConfigError, check_choice
from cnnlab.metrics.thresholds import roc_auc, roc_curve


def max_softmax_probability(logits: torch.Tensor) -> torch.Tensor:
    """max_i softmax(z)_i per sample (Hendrycks & Gimpel 2017)."""
    return torch.softmax(logits.float(), dim=1).amax(1)


def energy_score(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """−E(x) = T·logsumexp(z/T) per sample (Liu et al. 2020, eq. 4): higher is in-distribution."""
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature!r}.")
    return temperature * torch.logsumexp(logits.float() / temperature, dim=1)


OOD_SCORES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "msp": max_softmax_probability,
    "energy": energy_score,
}


def ood_scores(
    model: nn.Module, images: torch.Tensor, method: str = "msp", batch_size: int = 512
) -> torch.Tensor:
    """Score of every image (N, C, H, W in [0, 1]) by ``method``: ``'msp'`` or ``'energy'``."""
    score = OOD_SCORES[check_choice("OOD score", method, OOD_SCORES)]
    with frozen(model), torch.no_grad():
        return torch.cat(
            [score(model(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]
        )


def _binary(in_scores: torch.Tensor, out_scores: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    if len(in_scores) == 0 or len(out_scores) == 0:
        raise ConfigError("OOD detection needs both in- and out-of-distribution scores.")
    y_true = np.r_[np.ones(len(in_scores)), np.zeros(len(out_scores))]
    scores = np.r_[in_scores.cpu().double().numpy(), out_scores.cpu().double().numpy()]
    return y_true, scores


def ood_auroc(in_scores: torch.Tensor, out_scores: torch.Tensor) -> float:
    """AUROC of separating in-distribution (positive) from OOD scores."""
    return roc_auc(*_binary(in_scores, out_scores))


def fpr_at_tpr(in_scores: torch.Tensor, out_scores: torch.Tensor, tpr: float = 0.95) -> float:
    """Fraction of OOD inputs accepted when ``tpr`` of in-distribution inputs are accepted."""
    fprs, tprs, _ = roc_curve(*_binary(in_scores, out_scores), drop_intermediate=False)
    return float(fprs[np.searchsorted(tprs, tpr, side="left")])


def ood_detection(
    model: nn.Module,
    in_images: torch.Tensor,
    out_images: torch.Tensor,
    method: str = "msp",
) -> dict[str, float]:
    """``{'auroc', 'fpr_at_95_tpr'}`` of ``method`` separating ``in_images`` from ``out_images``."""
    inside = ood_scores(model, in_images, method)
    outside = ood_scores(model, out_images, method)
    return {"auroc": ood_auroc(inside, outside), "fpr_at_95_tpr": fpr_at_tpr(inside, outside)}
