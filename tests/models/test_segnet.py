"""SegNet (Badrinarayanan et al. 2017): VGG-16 encoder, max-unpooling decoder, pixel-wise output."""

import pytest
import torch
import torchvision

from cnnlab.errors import GeometryError
from cnnlab.models import create_model


@pytest.fixture(scope="module")
def paper_segnet():
    with torch.device("meta"):  # shapes only: no weights initialized
        return create_model("segnet", num_classes=11, in_chans=3)


def test_the_encoder_is_vgg16s_thirteen_convolutions(paper_segnet):
    """torchvision's VGG-16-BN feature layers, less the conv biases that batch norm makes moot."""
    model = paper_segnet
    with torch.device("meta"):
        vgg = torchvision.models.vgg16_bn().features
    conv_biases = sum(m.bias.numel() for m in vgg if isinstance(m, torch.nn.Conv2d))
    vgg_params = sum(p.numel() for p in vgg.parameters())
    assert sum(p.numel() for p in model.encoder.parameters()) == vgg_params - conv_biases
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.encoder.modules()) == 13


def test_the_decoder_mirrors_the_encoder(paper_segnet):
    model = paper_segnet
    encoder = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    decoder = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(decoder) == 13
    # read backwards, each decoder conv undoes an encoder conv's channel change
    mirrored = [(m.out_channels, m.in_channels) for m in encoder[::-1]]
    mirrored[-1] = (64, 64)  # the last decoder conv stays at 64 maps for the 1x1 classifier
    assert [(m.in_channels, m.out_channels) for m in decoder] == mirrored
    assert model.head.in_channels == 64 and model.head.out_channels == 11


def test_every_pixel_gets_class_scores_at_the_input_size():
    model = create_model("segnet_small", num_classes=5, in_chans=1).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 32, 64)).shape == (2, 5, 32, 64)


def test_the_decoder_unpools_with_the_encoders_switches():
    """The deepest decoder stage starts from the last pooling's maxima, back in place."""
    model = create_model("segnet_small", num_classes=3, in_chans=1).eval()
    x = torch.rand(1, 1, 32, 32)
    seen = []
    hook = model.decoder[0].register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    with torch.no_grad():
        model(x)
        hook.remove()
        deepest = x
        for stage in model.encoder:
            deepest = stage(deepest)
            if stage is not model.encoder[-1]:
                deepest = torch.nn.functional.max_pool2d(deepest, 2)
    unpooled = seen[0]
    pooled, switches = torch.nn.functional.max_pool2d(deepest, 2, return_indices=True)
    expected = torch.nn.functional.max_unpool2d(pooled, switches, 2, output_size=deepest.shape)
    torch.testing.assert_close(unpooled, expected)
    assert (unpooled != 0).float().mean() <= 0.25  # one value per 2x2 window survives


def test_a_side_that_does_not_halve_evenly_is_a_geometry_error():
    model = create_model("segnet_small", num_classes=3, in_chans=1).eval()
    with pytest.raises(GeometryError, match=r"multiples of 16.*got 24x32.*32x32"):
        model(torch.rand(1, 1, 24, 32))
