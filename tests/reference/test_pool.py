"""Pooling and unpooling (cnnlab.reference.pool) against torch.autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from cnnlab.errors import GeometryError
from cnnlab.reference import (
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_unpool2d,
    max_unpool2d_backward,
    unpool_bed_of_nails,
    unpool_bed_of_nails_backward,
    unpool_nearest,
    unpool_nearest_backward,
)
from tests.reference.oracle import PROPERTY, assert_close, autograd, torch_pad


@st.composite
def pool_cases(draw, dilated=True):
    """(x, kernel, stride, padding, dilation, rng): at most half a kernel of padding a side."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    padding = tuple(draw(st.integers(0, kernel[a // 2] // 2)) for a in range(4))
    size = tuple(
        max(1, dilation[a] * (kernel[a] - 1) + 1 - padding[2 * a] - padding[2 * a + 1])
        + draw(st.integers(0, 6))
        for a in (0, 1)
    )
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size)
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    for a in (0, 1):  # with dilation, a window's taps can all fall in the padding
        assume(
            _windows_see_the_input(
                size[a], kernel[a], stride[a], padding[2 * a : 2 * a + 2], dilation[a]
            )
        )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal(shape), kernel, stride, padding, dilation, rng


def _windows_see_the_input(n, kernel, stride, padding, dilation):
    before, after = padding
    windows = (n + before + after - dilation * (kernel - 1) - 1) // stride + 1
    return all(
        any(before <= i * stride + m * dilation < before + n for m in range(kernel))
        for i in range(windows)
    )


@PROPERTY
@given(pool_cases())
def test_max_pool_values_switches_and_gradient_agree_with_autograd(case):
    x, kernel, stride, padding, dilation, rng = case
    padded_width = x.shape[3] + padding[2] + padding[3]

    def pool(x):  # PyTorch pads evenly: pad with −∞ by hand, then pool without padding
        xp = F.pad(x, torch_pad(padding), value=-torch.inf)
        y, indices = F.max_pool2d(xp, kernel, stride, 0, dilation, return_indices=True)
        pool.indices = indices.numpy()
        return y

    y, dy, (dx,) = autograd(pool, [x], rng)
    rows, cols = np.divmod(pool.indices, padded_width)
    expected_switches = (rows - padding[0]) * x.shape[3] + (cols - padding[2])
    values, switches = max_pool2d(x, kernel, stride, padding, dilation)
    assert_close(values, y)
    np.testing.assert_array_equal(switches, expected_switches)
    assert_close(max_pool2d_backward(dy, switches, x.shape[2:]), dx)


def test_max_pool_gradient_adds_up_where_windows_share_a_switch():
    x = np.array([[[[0.0, 5.0, 1.0]]]])
    y, switches = max_pool2d(x, kernel=(1, 2), stride=1)
    assert y.tolist() == [[[[5.0, 5.0]]]] and switches.tolist() == [[[[1, 1]]]]
    dx = max_pool2d_backward(np.array([[[[1.0, 2.0]]]]), switches, (1, 3))
    assert dx.tolist() == [[[[0.0, 3.0, 0.0]]]]


@PROPERTY
@given(pool_cases(dilated=False))
def test_avg_pool_and_its_gradient_agree_with_autograd(case):
    x, kernel, stride, padding, _, rng = case

    def pool(x):  # zeros padded by hand are counted, as count_include_pad=True counts them
        return F.avg_pool2d(F.pad(x, torch_pad(padding)), kernel, stride)

    y, dy, (dx,) = autograd(pool, [x], rng)
    assert_close(avg_pool2d(x, kernel, stride, padding), y)
    assert_close(avg_pool2d_backward(dy, x.shape[2:], kernel, stride, padding), dx)


@PROPERTY
@given(pool_cases())
def test_max_unpooling_and_its_gradient_agree_with_autograd(case):
    x, kernel, stride, padding, dilation, rng = case
    pooled, switches = max_pool2d(x, kernel, stride, padding, dilation)
    size = x.shape[2:]
    # F.max_unpool2d checks output_size against its own formula, which ignores
    # dilation and uneven padding: give it the kernel that makes that formula exact.
    span = tuple(size[a] - (pooled.shape[2 + a] - 1) * stride[a] for a in (0, 1))

    def unpool(y):
        return F.max_unpool2d(y, torch.from_numpy(switches), span, stride, output_size=size)

    y, dy, (dpooled,) = autograd(unpool, [pooled], rng)
    assert_close(max_unpool2d(pooled, switches, size), y)
    assert_close(max_unpool2d_backward(dy, switches), dpooled)


@PROPERTY
@given(pool_cases(), st.integers(1, 3), st.integers(1, 3))
def test_nearest_and_bed_of_nails_unpooling_agree_with_autograd(case, sh, sw):
    x, rng = case[0], case[-1]
    channels = x.shape[1]
    y, dy, (dx,) = autograd(
        lambda x: F.interpolate(x, scale_factor=(sh, sw), mode="nearest"), [x], rng
    )
    assert_close(unpool_nearest(x, (sh, sw)), y)
    assert_close(unpool_nearest_backward(dy, (sh, sw)), dx)
    # Bed of nails: a transposed convolution whose kernel is 1 in its top-left tap.
    nail = torch.zeros(channels, 1, sh, sw, dtype=torch.float64)
    nail[:, :, 0, 0] = 1
    y, dy, (dx,) = autograd(
        lambda x: F.conv_transpose2d(x, nail, stride=(sh, sw), groups=channels), [x], rng
    )
    assert_close(unpool_bed_of_nails(x, (sh, sw)), y)
    assert_close(unpool_bed_of_nails_backward(dy, (sh, sw)), dx)


def test_pooling_padding_over_half_the_kernel_is_an_error():
    with pytest.raises(GeometryError, match=r"width: 3//2 = 1\), got 0 before and 2 after"):
        max_pool2d(np.zeros((1, 1, 6, 6)), kernel=3, padding=(1, 1, 0, 2))


def test_a_dilated_window_that_sees_only_padding_is_an_error():
    with pytest.raises(GeometryError, match="Some windows see only padding"):
        max_pool2d(np.zeros((1, 1, 1, 1)), kernel=(1, 2), padding=(0, 0, 1, 1), dilation=(1, 2))


def test_switches_outside_the_input_are_an_error():
    y, switches = max_pool2d(np.random.default_rng(0).standard_normal((1, 1, 4, 4)), kernel=2)
    with pytest.raises(GeometryError, match=r"index a 2x2 map \(0 to 3\), got \d+ to \d+"):
        max_unpool2d(y, switches, (2, 2))


def test_an_error_map_not_made_of_blocks_is_an_error():
    with pytest.raises(GeometryError, match="dy of size 5x4 is not made of 2x2 blocks"):
        unpool_nearest_backward(np.zeros((1, 1, 5, 4)), 2)
