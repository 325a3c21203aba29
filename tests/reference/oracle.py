"""Hypothesis strategies for layer geometries, and PyTorch's autograd as the oracle.

The reference room must not import torch; its tests do, to compare every
forward pass and gradient with ``torch.nn.functional`` and ``torch.autograd``
in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import settings
from hypothesis import strategies as st

TOLERANCE = 1e-10

# Modest example counts, and no example database written into the checkout.
PROPERTY = settings(max_examples=40, deadline=None, database=None)


def assert_close(actual: np.ndarray, expected: np.ndarray, tol: float = TOLERANCE) -> None:
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def autograd(
    fn: Callable[..., torch.Tensor], arrays: list[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(y, δ, [∂E/∂a for a in arrays]) of E = Σ y·δ for a random δ, by torch.autograd."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    y = fn(*tensors)
    dy = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(dy))
    return y.detach().numpy(), dy, [t.grad.numpy() for t in tensors]


def torch_pad(padding: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) in F.pad's order (left, right, top, bottom)."""
    top, bottom, left, right = padding
    return left, right, top, bottom


@dataclass(frozen=True)
class ConvCase:
    """A convolution's shapes and geometry, and the seed of its random arrays."""

    batch: int
    groups: int
    in_per_group: int
    out_per_group: int
    size: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    dilation: tuple[int, int]
    seed: int

    @property
    def geometry(self) -> dict:
        return {
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "groups": self.groups,
        }

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
        """x (N, C, H, W), w (K, C/G, F_h, F_w), b (K,) and the generator that made them."""
        rng = np.random.default_rng(self.seed)
        c, k = self.groups * self.in_per_group, self.groups * self.out_per_group
        x = rng.standard_normal((self.batch, c, *self.size))
        w = rng.standard_normal((k, self.in_per_group, *self.kernel))
        return x, w, rng.standard_normal(k), rng


@st.composite
def conv_cases(draw: st.DrawFn, max_size: int = 7) -> ConvCase:
    """Random batch, channels, groups, kernel, stride, uneven padding and dilation.

    The input is at least as large as the padded kernel; whether the kernel
    tiles it is left to chance (the tests pass ``floor=True``, as PyTorch).
    """
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, 3)) for _ in range(4))
    size = tuple(
        max(1, dilation[a] * (kernel[a] - 1) + 1 - padding[2 * a] - padding[2 * a + 1])
        + draw(st.integers(0, max_size))
        for a in (0, 1)
    )
    return ConvCase(
        batch=draw(st.integers(1, 2)),
        groups=draw(st.integers(1, 2)),
        in_per_group=draw(st.integers(1, 3)),
        out_per_group=draw(st.integers(1, 3)),
        size=size,
        kernel=kernel,
        stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        padding=padding,
        dilation=dilation,
        seed=draw(st.integers(0, 2**32 - 1)),
    )
