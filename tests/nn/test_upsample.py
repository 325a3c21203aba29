"""Up-sampling blocks against torch ops, the NumPy reference and hand-computed maps."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.nn.upsample import (
    BedOfNailsUnpool,
    BilinearUpsample,
    MaxUnpool,
    NearestUnpool,
    TransposedConvUpsample,
    bilinear_kernel,
)
from cnnlab.reference.pool import max_pool2d, max_unpool2d, unpool_bed_of_nails, unpool_nearest

X = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])


def test_nearest_unpool_repeats_each_value_over_its_block():
    expected = torch.tensor(
        [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0], [3.0, 3.0, 4.0, 4.0]]
    )
    assert torch.equal(NearestUnpool(2)(X)[0, 0], expected)


def test_bed_of_nails_is_zero_except_the_top_left_of_each_block():
    expected = torch.tensor(
        [[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 4.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    )
    assert torch.equal(BedOfNailsUnpool(2)(X)[0, 0], expected)


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_nearest_and_bed_of_nails_match_torch_and_the_reference(scale):
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    nearest = NearestUnpool(scale)(x)
    assert torch.equal(nearest, F.interpolate(x, scale_factor=scale, mode="nearest"))
    np.testing.assert_array_equal(nearest.numpy(), unpool_nearest(x.numpy(), scale))
    nails = BedOfNailsUnpool(scale)(x)
    np.testing.assert_array_equal(nails.numpy(), unpool_bed_of_nails(x.numpy(), scale))


def test_max_unpool_puts_the_maxima_back_at_the_pooling_switches():
    a = torch.tensor([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 6.0], [0.0, 0.0, 1.0, 2.0],
                        [9.0, 8.0, 3.0, 4.0]]]])  # fmt: skip
    pooled, switches = F.max_pool2d(a, 2, return_indices=True)
    out = MaxUnpool()(pooled, switches, a.shape)
    expected = torch.tensor([[0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 7.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                             [9.0, 0.0, 0.0, 4.0]])  # fmt: skip
    assert torch.equal(out[0, 0], expected)


def test_max_unpool_matches_torch_and_the_reference_and_inverts_the_pooling_positions():
    a = torch.rand(2, 3, 6, 8, dtype=torch.float64) + 0.1  # positive: zeros never win
    pooled, switches = F.max_pool2d(a, 2, return_indices=True)
    out = MaxUnpool()(pooled, switches, a.shape)
    assert torch.equal(out, F.max_unpool2d(pooled, switches, 2, output_size=a.shape[-2:]))
    y, ref_switches = max_pool2d(a.numpy(), 2)
    np.testing.assert_array_equal(ref_switches, switches.numpy())
    np.testing.assert_array_equal(out.numpy(), max_unpool2d(y, ref_switches, (6, 8)))
    kept = out != 0
    assert torch.equal(out[kept], a[kept])  # every kept value is the input at its own place
    assert torch.equal(F.max_pool2d(out, 2), pooled)  # pooling again finds the same maxima


def test_max_unpool_refuses_switches_of_another_shape_or_size():
    pooled, switches = F.max_pool2d(torch.randn(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(GeometryError, match="one switch per value"):
        MaxUnpool()(pooled, switches[..., :1], (4, 4))
    with pytest.raises(GeometryError, match="outside the 2x2 output"):
        MaxUnpool()(pooled, switches, (2, 2))


@pytest.mark.parametrize("scale", [2, 4])
def test_bilinear_upsample_is_torch_interpolate(scale):
    x = torch.randn(1, 2, 5, 3)
    expected = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    assert torch.equal(BilinearUpsample(scale)(x), expected)


def test_bilinear_kernel_of_the_fcn_reference_code():
    ramp = torch.tensor([0.25, 0.75, 0.75, 0.25])
    assert torch.allclose(bilinear_kernel(4), torch.outer(ramp, ramp))
    ramp = torch.tensor([1, 2, 3, 2, 1]) / 3
    assert torch.allclose(bilinear_kernel(5), torch.outer(ramp, ramp))


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_transposed_conv_scales_exactly_and_starts_as_bilinear_interpolation(scale):
    x = torch.randn(1, 3, 6, 7, dtype=torch.float64)
    up = TransposedConvUpsample(3, 3, scale).double()
    out = up(x)
    assert out.shape[-2:] == (6 * scale, 7 * scale)
    expected = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    inner = slice(scale, -scale)  # the borders differ: zero padding versus clamping
    torch.testing.assert_close(out[..., inner, inner], expected[..., inner, inner])


def test_transposed_conv_is_learnable_and_random_without_bilinear_init():
    up = TransposedConvUpsample(2, 5, 2, bilinear=False, bias=True)
    assert up.weight.requires_grad and up.weight.shape == (2, 5, 4, 4)
    assert up(torch.randn(1, 2, 3, 3)).shape == (1, 5, 6, 6)


def test_bilinear_init_needs_as_many_output_as_input_channels():
    with pytest.raises(ConfigError, match="bilinear=False"):
        TransposedConvUpsample(2, 5, 2)


@pytest.mark.parametrize("block", [NearestUnpool, BedOfNailsUnpool, BilinearUpsample])
@pytest.mark.parametrize("scale", [0, 1.5, True])
def test_scales_must_be_positive_integers(block, scale):
    with pytest.raises(ConfigError, match="integer >= 1"):
        block(scale)
