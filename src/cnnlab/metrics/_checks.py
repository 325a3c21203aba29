"""Input conversion and validation shared by the metric functions.

Metrics accept PyTorch tensors, NumPy arrays or Python sequences and compute on
NumPy arrays; every problem a caller can cause raises `ConfigError` with
the offending value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnlab.errors import ConfigError


def to_numpy(x: Any) -> np.ndarray:
    """Return ``x`` (tensor, array or sequence) as a NumPy array on the CPU."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def check_labels(name: str, y: Any) -> np.ndarray:
    """Return ``y`` as a non-empty 1-D int64 array of non-negative class indices."""
    y = to_numpy(y)
    if y.ndim != 1:
        raise ConfigError(f"{name} must be 1-D (one class index per sample), got shape {y.shape}.")
    if y.size == 0:
        raise ConfigError(f"{name} is empty; metrics need at least one sample.")
    integral = np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_
    whole_floats = np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)
    if not (integral or whole_floats):
        raise ConfigError(f"{name} must hold integer class indices, got dtype {y.dtype}.")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise ConfigError(f"{name} holds a negative class index ({y.min()}).")
    return y


def check_same_length(**arrays: np.ndarray) -> int:
    """Return the common length of ``arrays``; raise if their lengths differ."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ConfigError(f"Inputs must have one entry per sample, but {listed}.")
    return next(iter(lengths.values()))


def resolve_num_classes(num_classes: int | None, *labels: np.ndarray) -> int:
    """Return ``num_classes`` (inferred as max label + 1 when None), checking every label."""
    largest = max(int(y.max()) for y in labels)
    if num_classes is None:
        return largest + 1
    if num_classes < 1:
        raise ConfigError(f"num_classes must be >= 1, got {num_classes}.")
    if largest >= num_classes:
        raise ConfigError(
            f"Found class index {largest}, outside [0, {num_classes}); "
            f"pass num_classes > {largest} or fix the labels."
        )
    return num_classes


def check_scores(name: str, scores: Any, ndim: int) -> np.ndarray:
    """Return ``scores`` as a finite float64 array with ``ndim`` dimensions."""
    scores = to_numpy(scores)
    if scores.ndim != ndim:
        shape = "(n_samples,)" if ndim == 1 else "(n_samples, n_classes)"
        raise ConfigError(f"{name} must have shape {shape}, got {scores.shape}.")
    if scores.shape[0] == 0:
        raise ConfigError(f"{name} is empty; metrics need at least one sample.")
    scores = scores.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        raise ConfigError(f"{name} contains NaN or infinite values.")
    return scores


def check_binary(name: str, y: Any) -> np.ndarray:
    """Return ``y`` as a non-empty 1-D int64 array of 0/1 labels."""
    y = check_labels(name, y)
    if y.max() > 1:
        raise ConfigError(
            f"{name} must be binary (0 = negative, 1 = positive), found label {y.max()}."
        )
    return y
