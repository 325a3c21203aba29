"""Looking at weights, activations and codes (the lecture's "visualizing what CNNs learn").

* `first_layer_filters`: the kernels of the first convolution, as images
  (Krizhevsky, Sutskever & Hinton 2012, Fig. 3).
* `layer_activations`: the output of every layer for one image, as in the
  deep visualization toolbox (Yosinski, Clune, Nguyen, Fuchs & Lipson 2015).
* `max_activating_patches`: the input patches that excite one unit (channel)
  of a layer most over a data set, cropped to the unit's receptive field
  (Girshick, Donahue, Darrell & Malik 2014, "Rich feature hierarchies", Sec. 3.1;
  Zeiler & Fergus 2014, Fig. 2).  The receptive field follows the recurrence of
  Araujo, Norris & Sim (2019) along the chain of layers run before the unit.
* `nearest_neighbours`: the images whose last-layer code (the input of the
  last linear layer) is nearest in Euclidean distance (Krizhevsky et al. 2012,
  Sec. 6.1, Fig. 4).
* `tsne_embedding`: a 2-D t-SNE map of the codes (van der Maaten & Hinton
  2008), scikit-learn's ``TSNE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from cnnlab.errors import ConfigError, check_positive
from cnnlab.explain.context import explaining
from cnnlab.nn.geometry import ReceptiveField, receptive_field
from cnnlab.nn.hooks import (
    capture_activations,
    capture_inputs,
    get_layer,
    hooks,
    trace_outputs,
)

#: `tsne_embedding` computes the exact gradient for fewer points than this.
EXACT_TSNE_BELOW = 200


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """(name, module) of the first ``nn.Conv2d`` in ``model.named_modules()`` order."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ConfigError("The model has no nn.Conv2d layer, so it has no filters to show.")


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """The first convolution's weights (K, C, kh, kw), detached (a copy)."""
    return first_conv(model)[1].weight.detach().clone()


def _leaf(module: nn.Module, output: torch.Tensor) -> bool:
    return next(module.children(), None) is None


@torch.no_grad()
def layer_activations(
    model: nn.Module, x: torch.Tensor, layers: list[str] | None = None
) -> dict[str, torch.Tensor]:
    """Outputs of ``layers`` (default: every leaf module) for a batch, in execution order.

    A module called several times appears once, with its last output.
    """
    with explaining(model):
        if layers is None:
            return {name: out.clone() for name, out in trace_outputs(model, x, _leaf)}
        with capture_activations(model, layers) as store:
            model(x)
        return {name: store[name].clone() for name in layers if name in store}


def _padding(module: nn.Module, kernel: int, dilation: int) -> int:
    padding = getattr(module, "padding", 0)
    if padding == "same":
        return dilation * (kernel - 1) // 2
    return 0 if padding == "valid" else _pair(padding)[0]


def layer_receptive_field(model: nn.Module, layer: str, x: torch.Tensor) -> ReceptiveField:
    """Receptive field (size, jump, start) of the units of ``layer`` along the height.

    The chain is every leaf module with a ``kernel_size`` run before ``layer``
    finishes (convolutions, pooling); other leaves (activations, normalization)
    keep the geometry.  Exact for chains of layers, approximate for branching
    networks.
    """
    chain: list[tuple[int, int, int, int]] = []
    done: list[bool] = [False]

    def record(name: str, module: nn.Module, args: tuple, output: object) -> None:
        leaf = next(module.children(), None) is None
        if not done[0] and leaf and hasattr(module, "kernel_size") and hasattr(module, "stride"):
            k = _pair(module.kernel_size)[0]
            s = _pair(module.stride if module.stride is not None else k)[0]
            d = _pair(getattr(module, "dilation", 1))[0]
            chain.append((k, s, d, _padding(module, k, d)))
        if name == layer:
            done[0] = True

    get_layer(model, layer)  # an unknown name raises here, with the valid names
    names = [name for name, _ in model.named_modules()]
    recorders = {name: partial(record, name) for name in names}
    with hooks(model, recorders), torch.no_grad(), explaining(model):
        model(x[:1])
    return receptive_field(chain)


@dataclass(frozen=True)
class Patches:
    """The top ``k`` patches of one unit: crops (k, C, r, r), activations, image indices and
    (row, column) of the maximal unit in the layer's map."""

    images: torch.Tensor
    activations: torch.Tensor
    indices: torch.Tensor
    positions: torch.Tensor


@torch.no_grad()
def max_activating_patches(
    model: nn.Module,
    images: torch.Tensor,
    layer: str,
    units: Sequence[int],
    k: int = 9,
    batch_size: int = 256,
) -> dict[int, Patches]:
    """For each unit (channel) of ``layer``, the ``k`` images where it peaks highest.

    One pass over ``images`` serves all units.  Each image contributes its
    maximal location once; the crop is the unit's receptive field around that
    location, zero-padded where it leaves the image.
    """
    check_positive("k", k)
    units = list(units)
    peaks, where = [], []
    with explaining(model):
        for start in range(0, len(images), batch_size):
            maps = layer_activations(model, images[start : start + batch_size], [layer]).get(layer)
            if maps is None or maps.dim() != 4:
                raise ConfigError(
                    f"Layer {layer!r} must output (N, C, H, W) maps to have patches; "
                    "choose a convolutional layer."
                )
            bad = [u for u in units if not 0 <= u < maps.shape[1]]
            if bad:
                raise ConfigError(f"units must be in 0..{maps.shape[1] - 1}, got {bad}.")
            value, index = maps[:, units].flatten(2).max(2)
            peaks.append(value)
            where.append(torch.stack([index // maps.shape[-1], index % maps.shape[-1]], 2))
    peaks_all, where_all = torch.cat(peaks), torch.cat(where)
    field = layer_receptive_field(model, layer, images)
    found = {}
    for column, unit in enumerate(units):
        top = peaks_all[:, column].topk(min(k, len(peaks_all))).indices
        crops = [_crop(images[i], where_all[i, column], field) for i in top.tolist()]
        found[unit] = Patches(
            torch.stack(crops), peaks_all[top, column], top, where_all[top, column]
        )
    return found


def _crop(image: torch.Tensor, position: torch.Tensor, field: ReceptiveField) -> torch.Tensor:
    size = field.size
    half = (size - 1) / 2
    top, left = (round(field.start + int(p) * field.jump - half) for p in position)
    padded = F.pad(image, (size, size, size, size))
    return padded[:, top + size : top + 2 * size, left + size : left + 2 * size]


def last_linear(model: nn.Module) -> str:
    """Name of the last ``nn.Linear`` in ``model.named_modules()`` order (the classifier)."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise ConfigError("The model has no nn.Linear layer; pass layer= to choose the codes.")
    return names[-1]


@torch.no_grad()
def codes(
    model: nn.Module, images: torch.Tensor, layer: str | None = None, batch_size: int = 256
) -> torch.Tensor:
    """(N, D) codes: the input of the last linear layer, or the flattened output of ``layer``."""
    name = layer or last_linear(model)
    capture = capture_inputs if layer is None else capture_activations
    rows = []
    with explaining(model), capture(model, [name]) as store:
        for start in range(0, len(images), batch_size):
            model(images[start : start + batch_size])
            rows.append(store[name].flatten(1).clone())
    return torch.cat(rows)


def nearest_neighbours(
    query: torch.Tensor, database: torch.Tensor, k: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, distances) of the ``k`` rows of ``database`` nearest each query code, (Q, k)."""
    check_positive("k", k)
    distances = torch.cdist(query.double(), database.double())
    result = distances.topk(min(k, database.shape[0]), dim=1, largest=False)
    return result.indices, result.values.to(query.dtype)


def tsne_embedding(features: torch.Tensor, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """(N, 2) t-SNE map of (N, D) codes; perplexity is capped below N (sklearn requires it).

    Fewer than `EXACT_TSNE_BELOW` points use the exact O(N²) gradient,
    more the Barnes-Hut approximation (van der Maaten 2014).
    """
    from sklearn.manifold import TSNE  # imported on use: it takes a while to load

    n = len(features)
    if n < 3:
        raise ConfigError(f"t-SNE needs at least 3 images, got {n}.")
    perplexity = min(perplexity, (n - 1) / 3)
    method = "exact" if n < EXACT_TSNE_BELOW else "barnes_hut"
    tsne = TSNE(2, perplexity=perplexity, init="pca", method=method, random_state=seed)
    return tsne.fit_transform(features.detach().double().cpu().numpy())
