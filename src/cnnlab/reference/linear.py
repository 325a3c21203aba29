"""A fully connected layer forward and backward in NumPy.

The CNN lecture recalls backpropagation in an MLP ("Wsteczna propagacja w MLP"): a layer
computes z_j = Σ_i w_ji o_i + b_j, the error of its inputs is the error of its
outputs sent back through the same weights, and a weight's gradient is the error
of its output times the value of its input:

    y = x·Wᵀ + b                (x: (N, I), W: (J, I), b: (J,); PyTorch's layout)
    ∂E/∂x = δ·W                 (δ_i = Σ_j δ_j w_ji)
    ∂E/∂W = δᵀ·x                (∂E/∂w_ji = Σ_batch δ_j o_i)
    ∂E/∂b = Σ_batch δ

A convolution is this layer with most weights zero and the rest shared
(the CNN lecture, "Właściwości CNN"), which is why its gradients in `.conv` have the
same two shapes: the error sent back through the (flipped) weights, and the error
times the input.
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import GeometryError
from cnnlab.reference.grads import Grads
from cnnlab.reference.windows import check_ndim, check_shape


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """y = x·Wᵀ + b: (N, I) → (N, J) with W of shape (J, I)."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    _check(x, w)
    y = x @ w.T
    if b is None:
        return y
    check_shape("b", b, (w.shape[0],))
    return y + np.asarray(b, dtype=np.float64)


def linear_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray) -> Grads:
    """∂E/∂x = δ·W, ∂E/∂W = δᵀ·x, ∂E/∂b = Σ_batch δ, given δ = ∂E/∂y of shape (N, J)."""
    dy = np.asarray(dy, dtype=np.float64)
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    _check(x, w)
    check_shape("dy", dy, (x.shape[0], w.shape[0]))
    return Grads(input=dy @ w, weight=dy.T @ x, bias=dy.sum(axis=0))


def _check(x: np.ndarray, w: np.ndarray) -> None:
    check_ndim("x", x, 2, "(N, in_features)")
    check_ndim("w", w, 2, "(out_features, in_features)")
    if x.shape[1] != w.shape[1]:
        raise GeometryError(
            f"x has {x.shape[1]} features but w of shape {w.shape} takes {w.shape[1]}: "
            "flatten the feature maps to (N, C·H·W) and give w that many columns."
        )
