"""The fully connected layer (cnnlab.reference.linear) against torch.autograd."""

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from cnnlab.errors import GeometryError
from cnnlab.reference import linear, linear_backward
from tests.reference.oracle import PROPERTY, assert_close, autograd


@PROPERTY
@given(st.integers(1, 5), st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_forward_and_all_gradients_agree_with_autograd(batch, features_in, features_out, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, features_in))
    w, b = rng.standard_normal((features_out, features_in)), rng.standard_normal(features_out)
    y, dy, (dx, dw, db) = autograd(F.linear, [x, w, b], rng)
    assert_close(linear(x, w, b), y)
    grads = linear_backward(dy, x, w)
    assert_close(grads.input, dx)
    assert_close(grads.weight, dw)
    assert_close(grads.bias, db)


def test_features_that_do_not_match_the_weights_are_an_error():
    with pytest.raises(GeometryError, match=r"x has 12 features but w of shape \(3, 10\) takes 10"):
        linear(np.zeros((2, 12)), np.zeros((3, 10)))


def test_feature_maps_must_be_flattened_first():
    with pytest.raises(GeometryError, match=r"x must be a 2-D array \(N, in_features\)"):
        linear(np.zeros((2, 3, 2, 2)), np.zeros((3, 12)))
