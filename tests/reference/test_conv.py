"""conv2d and its backward pass (cnnlab.reference.conv) against torch.autograd."""

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given
from scipy.signal import convolve2d, correlate2d

from cnnlab.errors import GeometryError, UnknownNameError
from cnnlab.reference import conv2d, conv2d_backward
from tests.reference.oracle import PROPERTY, assert_close, autograd, conv_cases, torch_pad


def _torch_conv2d(case):
    def conv(x, w, b):
        xp = F.pad(x, torch_pad(case.padding))
        return F.conv2d(xp, w, b, case.stride, 0, case.dilation, case.groups)

    return conv


@PROPERTY
@given(conv_cases())
def test_forward_and_all_gradients_agree_with_autograd(case):
    x, w, b, rng = case.arrays()
    y, dy, (dx, dw, db) = autograd(_torch_conv2d(case), [x, w, b], rng)
    assert_close(conv2d(x, w, b, **case.geometry, floor=True), y)
    grads = conv2d_backward(dy, x, w, **case.geometry, floor=True)
    assert_close(grads.input, dx)
    assert_close(grads.weight, dw)
    assert_close(grads.bias, db)


@PROPERTY
@given(conv_cases(max_size=4))
def test_direct_loops_equal_im2col(case):
    x, w, b, rng = case.arrays()
    direct = conv2d(x, w, b, **case.geometry, floor=True, method="direct")
    assert_close(direct, conv2d(x, w, b, **case.geometry, floor=True))
    dy = rng.standard_normal(direct.shape)
    loops = conv2d_backward(dy, x, w, **case.geometry, floor=True, method="direct")
    matrix = conv2d_backward(dy, x, w, **case.geometry, floor=True)
    for by_loops, by_matrix in zip(loops, matrix, strict=True):
        assert_close(by_loops, by_matrix)


def test_input_gradient_is_the_full_correlation_with_the_flipped_kernel():
    # The CNN lecture: δ^h = Σ_m Σ_n δ^{h+1}_{i−m, j−n} w_mn, i.e. a full convolution of δ by w.
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 1, 6, 5)), rng.standard_normal((1, 1, 3, 2))
    dy = rng.standard_normal((1, 1, 4, 4))
    grads = conv2d_backward(dy, x, w)
    assert_close(grads.input[0, 0], correlate2d(dy[0, 0], w[0, 0, ::-1, ::-1], mode="full"))
    assert_close(grads.input[0, 0], convolve2d(dy[0, 0], w[0, 0], mode="full"))


def test_weight_gradient_is_the_input_correlated_with_the_output_error():
    # The CNN lecture: ∂E/∂w_mn = Σ_i Σ_j δ_ij o_{i+m, j+n}.
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 1, 6, 5)), rng.standard_normal((1, 1, 3, 2))
    dy = rng.standard_normal((1, 1, 4, 4))
    grads = conv2d_backward(dy, x, w)
    assert_close(grads.weight[0, 0], correlate2d(x[0, 0], dy[0, 0], mode="valid"))


def test_uneven_padding_is_top_bottom_left_right():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    identity = np.ones((1, 1, 1, 1))
    y = conv2d(x, identity, padding=(1, 0, 0, 2))
    assert y.shape == (1, 1, 3, 5)
    assert_close(y[0, 0], np.pad(x[0, 0], ((1, 0), (0, 2))))


def test_a_kernel_that_does_not_tile_the_input_names_the_formula_and_the_fix():
    with pytest.raises(GeometryError) as info:
        conv2d(np.zeros((1, 1, 7, 7)), np.zeros((1, 1, 3, 3)), stride=3)
    message = str(info.value)
    assert "(7 + 0 + 0 − 3)/3 + 1 = 2.33 is not an integer" in message
    assert "Pad 2 more after, crop 1, or pass floor=True" in message
    floored = conv2d(np.zeros((1, 1, 7, 7)), np.zeros((1, 1, 3, 3)), stride=3, floor=True)
    assert floored.shape == (1, 1, 2, 2)


def test_a_kernel_larger_than_the_padded_input_says_what_would_fit():
    with pytest.raises(GeometryError, match=r"dilated by 2 \(F_eff = 5\).*at least 3"):
        conv2d(np.zeros((1, 1, 2, 8)), np.zeros((1, 1, 3, 3)), padding=(1, 1, 0, 0), dilation=2)


def test_channels_that_do_not_match_the_kernel_are_an_error():
    with pytest.raises(GeometryError, match=r"x has 3 channels.*groups·C/groups = 2·2 = 4"):
        conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3)), groups=2)
    with pytest.raises(GeometryError, match="groups=3 must be >= 1 and divide the 4 output"):
        conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 1, 3, 3)), groups=3)


def test_an_output_error_of_the_wrong_shape_is_rejected():
    with pytest.raises(GeometryError, match=r"dy must have shape \(1, 2, 3, 3\)"):
        conv2d_backward(np.zeros((1, 2, 4, 4)), np.zeros((1, 1, 5, 5)), np.zeros((2, 1, 3, 3)))


def test_an_unknown_method_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="direct, im2col"):
        conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3)), method="fft")
