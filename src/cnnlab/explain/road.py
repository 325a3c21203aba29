"""ROAD: remove and debias (Rong, Leemann, Borisov, Kasneci & Kasneci 2022, "A consistent
and efficient evaluation strategy for attribution methods", ICML).

Deletion curves (`cnnlab.explain.metrics`) replace removed pixels by a
constant, and the shape of the removed region itself tells the model which
pixels were important (class information leaks through the mask).  ROAD
instead *imputes* every removed pixel from its neighbours, so that the
image stays plausible and the mask carries little information:

* noisy linear imputation (Sec. 5): each removed pixel equals the weighted
  mean of its eight neighbours, weight 1/6 for the four direct and 1/12 for
  the four diagonal ones (normalised over the neighbours inside the image);
  with the kept pixels fixed this is a sparse linear system per image, solved
  for all channels at once (``scipy.sparse.linalg.spsolve``); Gaussian noise
  of ``noise`` is then added to the imputed pixels;
* MoRF (most relevant first) removes the top fraction of pixels by
  attribution: a faithful map makes the score fall fast (low area);
  LeRF (least relevant first) removes the bottom fraction: the score should
  stay (high area).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.linalg import spsolve
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.explain.context import explaining
from cnnlab.explain.target import Target, check_target, target_scores, tile_target

DIRECT, DIAGONAL = 1 / 6, 1 / 12
_NEIGHBOURS = [
    (dy, dx, DIAGONAL if dy and dx else DIRECT)
    for dy in (-1, 0, 1)
    for dx in (-1, 0, 1)
    if dy or dx
]
FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class RoadCurves:
    """Scores of N images with ``fractions`` of their pixels removed and imputed."""

    fractions: torch.Tensor
    morf: torch.Tensor
    lerf: torch.Tensor

    @property
    def morf_auc(self) -> torch.Tensor:
        """Mean score over the MoRF fractions, shape (N,): lower is more faithful."""
        return self.morf.mean(1)

    @property
    def lerf_auc(self) -> torch.Tensor:
        """Mean score over the LeRF fractions, shape (N,): higher is more faithful."""
        return self.lerf.mean(1)


def noisy_linear_imputation(
    image: torch.Tensor, removed: torch.Tensor, noise: float = 0.01, seed: int = 0
) -> torch.Tensor:
    """``image`` (C, H, W) with the ``removed`` (H, W) pixels imputed from their neighbours.

    Each removed pixel is the weighted mean of its neighbours (Rong et al. 2022, Sec. 5),
    plus N(0, noise²) noise.
    """
    if removed.shape != image.shape[-2:]:
        raise ConfigError(
            f"The mask of shape {tuple(removed.shape)} does not match the image's "
            f"{tuple(image.shape[-2:])}; give one boolean per pixel."
        )
    channels, height, width = image.shape
    values = image.detach().cpu().double().reshape(channels, -1).numpy().T  # (H·W, C)
    mask = removed.cpu().numpy().reshape(-1)
    unknown = np.flatnonzero(mask)
    if not len(unknown):
        return image.clone()
    index = np.full(height * width, -1)
    index[unknown] = np.arange(len(unknown))
    rows, cols, weights = [], [], []
    rhs = np.zeros((len(unknown), channels))
    ys, xs = np.divmod(unknown, width)
    total = np.zeros(len(unknown))
    for dy, dx, weight in _NEIGHBOURS:
        y, x = ys + dy, xs + dx
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        neighbour = np.where(inside, y * width + x, 0)
        total += weight * inside
        known = inside & ~mask[neighbour]
        rhs[known] += weight * values[neighbour[known]]
        free = inside & mask[neighbour]
        rows.append(np.flatnonzero(free))
        cols.append(index[neighbour[free]])
        weights.append(np.full(free.sum(), -weight))
    system = sparse.csr_matrix(
        (
            np.concatenate([total, *weights]),
            (
                np.concatenate([np.arange(len(unknown)), *rows]),
                np.concatenate([np.arange(len(unknown)), *cols]),
            ),
        ),
        shape=(len(unknown), len(unknown)),
    )
    solved = spsolve(system.tocsc(), rhs).reshape(len(unknown), channels)
    generator = np.random.default_rng(seed)
    solved = solved + noise * generator.standard_normal(solved.shape)
    out = values.copy()
    out[unknown] = solved
    return torch.from_numpy(out.T.reshape(channels, height, width)).to(image.dtype).to(image.device)


@torch.no_grad()
def road(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    attributions: torch.Tensor,
    fractions: tuple[float, ...] = FRACTIONS,
    noise: float = 0.01,
) -> RoadCurves:
    """MoRF and LeRF scores of ``attributions`` (shape of x, or (N, 1, H, W)) under ROAD.

    The score is the softmax probability of the target class (or the target
    callable's value), as for `cnnlab.explain.metrics.deletion_insertion`.
    """
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if attributions.shape[0] != n or attributions.shape[-2:] != x.shape[-2:]:
        raise ConfigError(
            f"attributions of shape {tuple(attributions.shape)} do not match images of shape "
            f"{tuple(x.shape)}; give one map per image of the same height and width."
        )
    if not fractions or not all(0 < f < 1 for f in fractions):
        raise ConfigError(f"ROAD fractions must lie in (0, 1), got {fractions}.")
    target = check_target(target, n)
    importance = attributions.reshape(n, -1, height * width).sum(1)
    rank = importance.argsort(dim=1, descending=True, stable=True).argsort(dim=1)
    curves = {}
    with explaining(model):
        for name in ("morf", "lerf"):
            images = []
            for f in fractions:
                count = round(f * height * width)
                for i in range(n):
                    position = rank[i] if name == "morf" else height * width - 1 - rank[i]
                    removed = (position < count).view(height, width)
                    images.append(noisy_linear_imputation(x[i], removed, noise, seed=i))
            output = model(torch.stack(images))
            tiled = tile_target(target, n, len(fractions))
            scores = target_scores(output if callable(tiled) else output.softmax(1), tiled)
            curves[name] = scores.view(len(fractions), n).T.contiguous()
    return RoadCurves(torch.tensor(fractions), curves["morf"], curves["lerf"])
