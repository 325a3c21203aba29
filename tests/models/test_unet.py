"""U-Net (Ronneberger et al. 2015, Fig. 1): the paper's layers and counts, pixel-wise output."""

import pytest
import torch

from cnnlab.errors import GeometryError
from cnnlab.models import create_model
from cnnlab.models.unet import PAPER_WIDTHS


def _conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out  # K·F·F·D + K


def test_the_paper_unet_has_fig_1s_layers():
    widths = PAPER_WIDTHS
    expected = 0
    for c_in, c_out in zip((1, *widths[:-1]), widths, strict=True):  # contracting path
        expected += _conv(3, c_in, c_out) + _conv(3, c_out, c_out)
    for wide, narrow in zip(widths[:0:-1], widths[-2::-1], strict=True):  # expanding path
        expected += 2 * 2 * wide * narrow + narrow  # 2x2 up-convolution
        expected += _conv(3, 2 * narrow, narrow) + _conv(3, narrow, narrow)
    expected += _conv(1, 64, 2)  # the final 1x1 convolution to 2 classes
    model = create_model("unet", num_classes=2, in_chans=1)
    assert sum(p.numel() for p in model.parameters()) == expected == 31_030_658


@pytest.mark.parametrize("name", ["unet", "unet_small"])
def test_every_pixel_gets_class_scores_at_the_input_size(name):
    model = create_model(name, num_classes=5, in_chans=3).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 48))
    assert out.shape == (2, 5, 32, 48)


def test_a_side_that_does_not_halve_evenly_is_a_geometry_error():
    model = create_model("unet_small", in_chans=1).eval()
    with pytest.raises(GeometryError, match=r"multiples of 8.*got 30x32.*32x32"):
        model(torch.rand(1, 1, 30, 32))


def test_the_skip_connections_carry_the_contracting_maps():
    model = create_model("unet_small", in_chans=1).eval()
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        merged_inputs = []
        hook = model.merge[-1].register_forward_pre_hook(lambda m, a: merged_inputs.append(a[0]))
        model(x)
        hook.remove()
        first_stage = model.down[0](x)
    torch.testing.assert_close(merged_inputs[0][:, :16], first_stage)
