"""Perturbation-based attributions: occlusion sensitivity and LIME.

Both only evaluate the model (no gradients), on perturbed copies of the
images, in batches of ``batch_size`` images per forward pass.

* `occlusion`: slide a window of ``baseline`` values over the image (all
  channels at once) and record the drop of the score, S(x) − S(x with the
  window occluded); each pixel gets the mean drop over the windows covering it
  (Zeiler & Fergus 2014, "Visualizing and understanding convolutional
  networks", Sec. 4.2; averaged as in captum's ``Occlusion``).  Pixels that no
  window covers get 0.
* `lime`: switch random subsets of superpixels off (set to ``baseline``),
  weight each sample by an exponential kernel of its cosine distance to the
  unperturbed image, and fit a sparse (Lasso) linear model of the score on the
  on/off vectors; each pixel gets the coefficient of its superpixel (Ribeiro,
  Singh & Guestrin 2016, "Why should I trust you?", Sec. 3.3-3.4 and eq. 1).
  Superpixels are scikit-image's SLIC (Achanta et al. 2012) when scikit-image
  is installed, else a regular grid (`superpixels`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cnnlab.errors import ConfigError, check_choice, check_positive
from cnnlab.explain.context import explaining
from cnnlab.explain.target import Target, check_target, target_scores, tile_target

SEGMENTATIONS = ("auto", "slic", "grid")


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or min(pair) < 1:
        raise ConfigError(f"{name} must be a positive int or (height, width), got {value!r}.")
    return pair


@torch.no_grad()
def _scores(model: nn.Module, images: torch.Tensor, target: Target, n: int) -> torch.Tensor:
    """Scores of copy-major copies of a batch of ``n`` images."""
    return target_scores(model(images), tile_target(target, n, len(images) // n))


def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    window: int | tuple[int, int] = 8,
    stride: int | tuple[int, int] = 4,
    baseline: float = 0.0,
    batch_size: int = 256,
) -> torch.Tensor:
    """Occlusion sensitivity: mean score drop of the windows covering each pixel.

    Parameters
    ----------
    window
        side (or (height, width)) of the occluding square, in pixels.
    stride
        step between window positions; windows start at 0, stride, ...
    baseline
        value the occluded pixels take (0 is black).
    batch_size
        occluded images per forward pass.
    """
    (wh, ww), (sh, sw) = _pair(window, "window"), _pair(stride, "stride")
    check_positive("batch_size", batch_size)
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    if wh > height or ww > width:
        raise ConfigError(f"window {wh}x{ww} is larger than the {height}x{width} images.")
    positions = [
        (top, left)
        for top in range(0, height - wh + 1, sh)
        for left in range(0, width - ww + 1, sw)
    ]
    total = x.new_zeros(n, height, width)
    count = x.new_zeros(height, width)
    per_pass = max(1, batch_size // n)
    with explaining(model):
        reference = _scores(model, x, target, n)
        for start in range(0, len(positions), per_pass):
            chunk = positions[start : start + per_pass]
            masks = x.new_zeros(len(chunk), height, width)
            for k, (top, left) in enumerate(chunk):
                masks[k, top : top + wh, left : left + ww] = 1
            keep = (1 - masks)[:, None, None]
            occluded = (x * keep + baseline * masks[:, None, None]).flatten(0, 1)
            drop = reference - _scores(model, occluded, target, n).view(len(chunk), n)
            total += torch.einsum("kn,khw->nhw", drop, masks)
            count += masks.sum(0)
    attribution = torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))
    return attribution[:, None].expand_as(x).clone()


def grid_segments(height: int, width: int, cells: int | tuple[int, int] = 8) -> torch.Tensor:
    """(H, W) labels of a ``cells`` x ``cells`` grid of near-equal rectangles, row-major."""
    rows, cols = _pair(cells, "cells")
    row = torch.arange(height) * rows // height
    col = torch.arange(width) * cols // width
    return row[:, None] * cols + col[None, :]


def _slic(image: torch.Tensor, segments: int) -> torch.Tensor:
    from skimage.segmentation import slic

    array = image.detach().cpu().double().numpy()
    if array.shape[0] == 1:
        labels = slic(array[0], n_segments=segments, channel_axis=None, start_label=0)
    else:
        labels = slic(array.transpose(1, 2, 0), n_segments=segments, start_label=0)
    return torch.from_numpy(np.unique(labels, return_inverse=True)[1].reshape(labels.shape))


def _have_skimage() -> bool:
    try:
        import skimage.segmentation  # noqa: F401
    except ImportError:
        return False
    return True


def superpixels(image: torch.Tensor, method: str = "auto", segments: int = 64) -> torch.Tensor:
    """(H, W) LongTensor of superpixel labels 0..S−1 for one (C, H, W) image.

    ``method`` is ``'slic'`` (scikit-image's SLIC, Achanta et al. 2012, about
    ``segments`` regions), ``'grid'`` (a √segments x √segments grid) or ``'auto'``
    (SLIC when scikit-image is installed, else the grid).  ``'auto'`` also takes
    the grid when SLIC finds a single region: on a small or structureless image
    (16 x 16 noise) its connectivity step merges every cluster into one, and
    LIME with one segment can only explain the whole image.
    """
    check_choice("superpixel method", method, SEGMENTATIONS)
    check_positive("segments", segments)
    auto = method == "auto"
    if auto:
        method = "slic" if _have_skimage() else "grid"
    if method == "slic":
        if not _have_skimage():
            raise ConfigError(
                "SLIC superpixels need scikit-image: pip install scikit-image, or use 'grid'."
            )
        labels = _slic(image, segments)
        if labels.max() > 0 or not auto:
            return labels
    side = max(1, round(segments**0.5))
    return grid_segments(image.shape[-2], image.shape[-1], side)


def lime(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    segments: torch.Tensor | None = None,
    superpixel: str = "auto",
    num_segments: int = 64,
    samples: int = 500,
    keep_probability: float = 0.5,
    kernel_width: float = 0.25,
    alpha: float = 0.01,
    baseline: float = 0.0,
    batch_size: int = 256,
    seed: int = 0,
) -> torch.Tensor:
    """LIME for images (Ribeiro et al. 2016): Lasso coefficients of superpixels, shape of x.

    Parameters
    ----------
    segments : (H, W) or (N, H, W) integer labels 0..S−1, optional
        The interpretable features; computed by `superpixels` with
        ``superpixel`` and ``num_segments`` when omitted.
    samples
        perturbed images per input image (the first is the unperturbed one).
    keep_probability
        chance that a superpixel stays on in a sample.
    kernel_width
        σ of the weight π(z) = exp(−d(z)²/σ²), d the cosine distance
        of the on/off vector to all-on (LIME's image default, 0.25).
    alpha
        L1 penalty of the Lasso surrogate (captum's default, 0.01).
    baseline
        value of switched-off pixels.
    seed
        seeds the samples; the same seed gives the same attributions.
    """
    check_positive("samples", samples)
    check_positive("kernel_width", kernel_width)
    if not 0 < keep_probability < 1:
        raise ConfigError(f"keep_probability must be in (0, 1), got {keep_probability}.")
    target = check_target(target, len(x))
    generator = torch.Generator().manual_seed(seed)
    rows = []
    with explaining(model):
        for i, image in enumerate(x):
            labels = _segments_of(segments, i, image, superpixel, num_segments).to(x.device)
            count = int(labels.max()) + 1
            on = (torch.rand(samples, count, generator=generator) < keep_probability).to(x.dtype)
            on[0] = 1
            one = target[i : i + 1] if isinstance(target, torch.Tensor) else target
            scores = _sample_scores(
                model, image, one, on.to(x.device)[:, labels], baseline, batch_size
            )
            weights = _fit_surrogate(on, scores, kernel_width, alpha)
            rows.append(weights.to(x.device, x.dtype)[labels])
    return torch.stack(rows)[:, None].expand_as(x).clone()


def _segments_of(
    segments: torch.Tensor | None, i: int, image: torch.Tensor, method: str, count: int
) -> torch.Tensor:
    if segments is None:
        return superpixels(image, method, count)
    labels = segments if segments.dim() == 2 else segments[i]
    if labels.shape != image.shape[-2:] or labels.dtype.is_floating_point:
        raise ConfigError(
            f"segments must be integer labels of shape {tuple(image.shape[-2:])} "
            f"(or N x that), got {labels.dtype} {tuple(labels.shape)}."
        )
    return torch.unique(labels, return_inverse=True)[1]


def _sample_scores(
    model: nn.Module,
    image: torch.Tensor,
    target: Target,
    keep: torch.Tensor,
    baseline: float,
    batch_size: int,
) -> torch.Tensor:
    """Scores of ``image`` with the pixels where ``keep`` (samples, H, W) is 0 switched off."""
    scores = []
    for start in range(0, len(keep), batch_size):
        part = keep[start : start + batch_size, None]
        scores.append(_scores(model, image * part + baseline * (1 - part), target, 1))
    return torch.cat(scores)


def _fit_surrogate(
    on: torch.Tensor, scores: torch.Tensor, kernel_width: float, alpha: float
) -> torch.Tensor:
    """Coefficients of the weighted Lasso fit of ``scores`` on the on/off vectors (eq. 1)."""
    from sklearn.linear_model import Lasso  # imported on use: it takes a while to load

    z = on.double().numpy()
    cosine = z.sum(1) / (np.linalg.norm(z, axis=1) * np.sqrt(z.shape[1]) + 1e-12)
    weights = np.exp(-((1 - cosine) ** 2) / kernel_width**2)
    y = scores.double().cpu().numpy()
    return torch.from_numpy(Lasso(alpha=alpha).fit(z, y, sample_weight=weights).coef_)
