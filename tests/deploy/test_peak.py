"""Matmul peak and training FLOPs (cnnlab bench --peak / --train)."""

import math

import pytest

from cnnlab.deploy.peak import matmul_peak, training_speed
from cnnlab.errors import ConfigError
from cnnlab.metrics.cost import count_flops
from cnnlab.models.registry import create_model_for_input


def test_training_step_flops_are_forward_plus_backward_counted_by_hand():
    """Backward costs twice the forward (gradients wrt input and weights) except for the first
    convolution, whose input needs no gradient: step = 3·forward − first conv's forward."""
    shape, batch = (3, 32, 32), 2
    forward = count_flops(create_model_for_input("resnet20", 10, shape), shape, batch_size=batch)
    first_conv = 2 * (16 * 3 * 3 * 3) * (32 * 32) * batch  # 3 -> 16 channels, 3x3, 32x32 maps
    speed = training_speed("resnet20", shape, 10, batch_size=batch, steps=1, threads=1)
    assert speed.gflop_per_step * 1e9 == 3 * forward - first_conv
    assert speed.images_per_second > 0 and math.isfinite(speed.gflops)


def test_matmul_peak_is_a_finite_rate():
    assert 0 < matmul_peak(threads=1, size=128, repeats=3) < math.inf


def test_bad_sizes_are_clear_errors():
    with pytest.raises(ConfigError, match="size"):
        matmul_peak(threads=1, size=0)
    with pytest.raises(ConfigError, match="batch size"):
        training_speed("resnet20", (3, 32, 32), 10, batch_size=0)
