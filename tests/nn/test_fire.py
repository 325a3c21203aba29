"""The fire module of SqueezeNet (cnnlab.nn.fire), Iandola et al. (2016), Fig. 1."""

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.nn.fire import Fire


def test_fire_concatenates_the_1x1_and_3x3_expand_maps():
    fire = Fire(96, squeeze=16, expand1x1=64, expand3x3=64)
    assert fire.out_channels == 128
    assert fire(torch.rand(2, 96, 9, 9)).shape == (2, 128, 9, 9)


def test_fire_has_the_parameters_of_table_1():
    # fire2 of SqueezeNet: s1x1 = 16, e1x1 = e3x3 = 64 on 96 input maps: 11,920 parameters.
    fire = Fire(96, 16, 64, 64)
    squeeze, expand1x1, expand3x3 = 96 * 16 + 16, 16 * 64 + 64, 16 * 9 * 64 + 64
    assert sum(p.numel() for p in fire.parameters()) == squeeze + expand1x1 + expand3x3 == 11_920


def test_fire_outputs_are_rectified():
    assert (Fire(8, 2, 3, 3)(torch.randn(2, 8, 4, 4)) >= 0).all()


def test_fire_refuses_empty_layers():
    with pytest.raises(ConfigError, match="squeeze"):
        Fire(8, 0, 4, 4)
