"""Central-difference gradients (cnnlab.reference.gradcheck) agree with every analytic backward."""

import numpy as np
import pytest

from cnnlab.errors import ConfigError
from cnnlab.reference import (
    avg_pool2d,
    avg_pool2d_backward,
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
    linear,
    linear_backward,
    max_pool2d,
    max_pool2d_backward,
    numerical_gradient,
    relative_error,
)

GOOD = 1e-8  # central differences of a linear E leave rounding error only, ~1e-10

# stride 2, uneven padding, dilation 2 and groups 2 in one layer
CONV = {"stride": (2, 1), "padding": (1, 0, 2, 1), "dilation": (1, 2), "groups": 2}


def _error(r):
    """E = Σ y·r: a scalar whose gradient wrt y is the fixed error map r."""
    return lambda y: np.sum(y * r)


def test_numerical_gradient_of_a_cubic_is_three_x_squared():
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    assert relative_error(numerical_gradient(lambda a: np.sum(a**3), x), 3 * x**2) < GOOD


def test_conv2d_gradients_wrt_input_weights_and_bias():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((2, 2, 3, 2)), np.zeros(2)
    r = rng.standard_normal(conv2d(x, w, **CONV, floor=True).shape)
    E = _error(r)
    grads = conv2d_backward(r, x, w, **CONV, floor=True)
    numeric_x = numerical_gradient(lambda a: E(conv2d(a, w, b, **CONV, floor=True)), x)
    numeric_w = numerical_gradient(lambda a: E(conv2d(x, a, b, **CONV, floor=True)), w)
    numeric_b = numerical_gradient(lambda a: E(conv2d(x, w, a, **CONV, floor=True)), b)
    assert relative_error(grads.input, numeric_x) < GOOD
    assert relative_error(grads.weight, numeric_w) < GOOD
    assert relative_error(grads.bias, numeric_b) < GOOD


def test_conv_transpose2d_gradients_wrt_input_and_weights():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 2, 3, 4)), rng.standard_normal((2, 2, 3, 2))
    geometry = {**CONV, "output_padding": (1, 0)}
    r = rng.standard_normal(conv_transpose2d(x, w, **geometry).shape)
    E = _error(r)
    grads = conv_transpose2d_backward(r, x, w, **geometry)
    numeric_x = numerical_gradient(lambda a: E(conv_transpose2d(a, w, **geometry)), x)
    numeric_w = numerical_gradient(lambda a: E(conv_transpose2d(x, a, **geometry)), w)
    assert relative_error(grads.input, numeric_x) < GOOD
    assert relative_error(grads.weight, numeric_w) < GOOD


POOL = {"kernel": 3, "stride": 2, "padding": (1, 0, 1, 1)}  # overlapping windows


def test_max_pooling_gradient_wrt_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 7, 6))
    y, switches = max_pool2d(x, **POOL)
    r = rng.standard_normal(y.shape)
    numeric = numerical_gradient(lambda a: _error(r)(max_pool2d(a, **POOL)[0]), x)
    assert relative_error(max_pool2d_backward(r, switches, (7, 6)), numeric) < GOOD


def test_avg_pooling_gradient_wrt_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 7, 6))
    r = rng.standard_normal(avg_pool2d(x, **POOL).shape)
    numeric = numerical_gradient(lambda a: _error(r)(avg_pool2d(a, **POOL)), x)
    assert relative_error(avg_pool2d_backward(r, (7, 6), **POOL), numeric) < GOOD


def test_linear_gradients_wrt_input_and_weights():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    r = rng.standard_normal((3, 4))
    grads = linear_backward(r, x, w)
    assert (
        relative_error(grads.input, numerical_gradient(lambda a: _error(r)(linear(a, w)), x)) < GOOD
    )
    assert (
        relative_error(grads.weight, numerical_gradient(lambda a: _error(r)(linear(x, a)), w))
        < GOOD
    )


def test_a_wrong_gradient_is_caught():
    x = np.random.default_rng(4).standard_normal((3, 3))
    assert relative_error(2 * x, numerical_gradient(lambda a: np.sum(a**2), x)) < GOOD
    assert relative_error(x, numerical_gradient(lambda a: np.sum(a**2), x)) > 0.4


def test_the_function_must_return_a_scalar():
    with pytest.raises(ConfigError, match=r"returns a scalar, got an array of shape \(2,\)"):
        numerical_gradient(lambda a: a, np.zeros(2))


def test_gradients_of_different_shapes_cannot_be_compared():
    with pytest.raises(ConfigError, match="different shapes"):
        relative_error(np.zeros(3), np.zeros((3, 1)))


def test_numerical_gradient_leaves_its_input_unchanged():
    x = np.arange(4.0)
    numerical_gradient(lambda a: np.sum(a**2), x)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]
