"""Numerical gradients by central differences: the check every analytic backward pass must pass.

For a scalar function E of an array x (CS231n, "Gradient checks"):

    ∂E/∂x[i] ≈ (E(x + h·e_i) − E(x − h·e_i)) / 2h

The error of the central difference is O(h²) (the first-order terms cancel),
plus the rounding error of E, about ε·|E|/h with ε ≈ 2.2e-16 in float64; h = 1e-6
balances the two.  For E linear or quadratic in x — a convolution followed by
E = Σ y·r is linear — the O(h²) term vanishes and only rounding is left.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnnlab.errors import ConfigError


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, *, h: float = 1e-6
) -> np.ndarray:
    """∂f/∂x by central differences, one entry of x at a time (2·x.size calls of f).

    ``f`` takes an array of x's shape and returns a scalar; x is copied to float64
    and never changed.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        above = _scalar(f(x))
        x[index] = saved - h
        below = _scalar(f(x))
        x[index] = saved
        grad[index] = (above - below) / (2 * h)
    return grad


def relative_error(analytic: np.ndarray, numerical: np.ndarray) -> float:
    """max |a − n| / max(max |a|, max |n|): 0 for equal arrays, 1e-7 or less for a good backward."""
    analytic, numerical = np.asarray(analytic), np.asarray(numerical)
    if analytic.shape != numerical.shape:
        raise ConfigError(
            f"The gradients have different shapes: {analytic.shape} and {numerical.shape}."
        )
    scale = max(np.abs(analytic).max(initial=0.0), np.abs(numerical).max(initial=0.0))
    return 0.0 if scale == 0 else float(np.abs(analytic - numerical).max() / scale)


def _scalar(value: float) -> float:
    if np.ndim(value) != 0:
        raise ConfigError(
            f"numerical_gradient needs a function that returns a scalar, got an array of "
            f"shape {np.shape(value)}: sum it, or take its dot product with a fixed array."
        )
    return float(value)
