"""conv_transpose2d and its backward pass (cnnlab.reference.transposed) against torch.autograd."""

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from cnnlab.errors import GeometryError
from cnnlab.reference import conv2d, conv2d_backward, conv_transpose2d, conv_transpose2d_backward
from tests.reference.oracle import PROPERTY, assert_close, autograd, conv_cases


@st.composite
def transposed_cases(draw):
    """A convolution's geometry, the size of the map to upsample, and output_padding."""
    case = draw(conv_cases())
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    output_padding = tuple(
        draw(st.integers(0, max(s, d) - 1)) for s, d in zip(case.stride, case.dilation, strict=True)
    )
    return case, size, output_padding


@PROPERTY
@given(transposed_cases())
def test_forward_and_all_gradients_agree_with_autograd(drawn):
    case, size, output_padding = drawn
    rng = np.random.default_rng(case.seed)
    c_in, c_out = case.groups * case.out_per_group, case.groups * case.in_per_group
    x = rng.standard_normal((case.batch, c_in, *size))
    w = rng.standard_normal((c_in, case.in_per_group, *case.kernel))
    b = rng.standard_normal(c_out)
    top, bottom, left, right = case.padding
    full = [
        (size[a] - 1) * case.stride[a] + case.dilation[a] * (case.kernel[a] - 1) + 1 for a in (0, 1)
    ]
    full = [full[a] + output_padding[a] for a in (0, 1)]
    assume(full[0] - top - bottom >= 1 and full[1] - left - right >= 1)

    def transposed(x, w, b):  # PyTorch pads evenly: crop the uneven padding by hand
        y = F.conv_transpose2d(x, w, b, case.stride, 0, output_padding, case.groups, case.dilation)
        return y[:, :, top : full[0] - bottom, left : full[1] - right]

    y, dy, (dx, dw, db) = autograd(transposed, [x, w, b], rng)
    geometry = {**case.geometry, "output_padding": output_padding}
    assert_close(conv_transpose2d(x, w, b, **geometry), y)
    grads = conv_transpose2d_backward(dy, x, w, **geometry)
    assert_close(grads.input, dx)
    assert_close(grads.weight, dw)
    assert_close(grads.bias, db)


@PROPERTY
@given(conv_cases())
def test_is_the_input_gradient_of_the_convolution(case):
    x, w, _, rng = case.arrays()
    dy = rng.standard_normal(conv2d(x, w, **case.geometry, floor=True).shape)
    upsampled = conv_transpose2d(dy, w, **case.geometry, output_size=x.shape[2:])
    assert_close(upsampled, conv2d_backward(dy, x, w, **case.geometry, floor=True).input)


@PROPERTY
@given(conv_cases())
def test_is_the_adjoint_of_the_convolution(case):
    # <A·x, y> = <x, Aᵀ·y> for every x and y: the transpose in "transposed convolution".
    x, w, _, rng = case.arrays()
    z = conv2d(x, w, **case.geometry, floor=True)
    y = rng.standard_normal(z.shape)
    back = conv_transpose2d(y, w, **case.geometry, output_size=x.shape[2:])
    assert np.sum(z * y) == pytest.approx(np.sum(x * back), rel=1e-10, abs=1e-10)


def test_an_impossible_output_size_says_which_sizes_are_possible():
    with pytest.raises(GeometryError) as info:
        conv_transpose2d(
            np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), stride=2, output_size=(11, 9)
        )
    message = str(info.value)
    assert "cannot produce a height of 11 from 4" in message
    assert "(4 − 1)·2 − 0 − 0 + 3 + output_padding gives 9 to 10" in message


def test_output_padding_must_be_below_the_stride_or_dilation():
    with pytest.raises(GeometryError, match=r"in \[0, max\(stride, dilation\)\) = \[0, 2\), got 2"):
        conv_transpose2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), stride=2, output_padding=2)


def test_padding_that_crops_the_whole_output_is_an_error():
    with pytest.raises(
        GeometryError, match=r"\(1 − 1\)·1 − 1 − 1 \+ 1 \+ 0 = -1: the padding crops"
    ):
        conv_transpose2d(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), padding=1)


def test_channels_that_do_not_match_the_kernel_are_an_error():
    with pytest.raises(GeometryError, match=r"x has 2 channels.*takes 3 \(w is \(C_in"):
        conv_transpose2d(np.zeros((1, 2, 4, 4)), np.zeros((3, 1, 3, 3)))
