"""RepVGG A0-B3 (cnnlab.models.repvgg), Ding et al. (2021)."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, repvgg  # noqa: F401  (registers the family)
from cnnlab.models.repvgg import CONFIGS
from cnnlab.nn.fuse import fuse_conv_bn, reparameterize
from cnnlab.nn.repvgg import RepVGGBlock
from tests.batchnorm_helpers import randomize_batch_norm
from tests.models.zoo_checks import meta_model, parameter_count

VARIANTS = [f"repvgg_{v}" for v in CONFIGS]

# Table 3 of the paper: widths (min(64, 64a), 64a, 128a, 256a, 512b).
WIDTHS = {
    "a0": (48, 48, 96, 192, 1280),
    "a2": (64, 96, 192, 384, 1408),
    "b3": (64, 192, 384, 768, 2560),
}


@pytest.mark.parametrize("variant", list(WIDTHS))
def test_stage_widths_follow_table_3(variant):
    model = meta_model(f"repvgg_{variant}")
    widths = tuple(stage[0].rep.out_channels for stage in model.features)
    assert widths == WIDTHS[variant]


@pytest.mark.parametrize(("family", "depths"), [("a", (1, 2, 4, 14, 1)), ("b", (1, 4, 6, 16, 1))])
def test_stage_depths_follow_table_2(family, depths):
    model = meta_model(f"repvgg_{family}0")
    assert tuple(len(stage) for stage in model.features) == depths


@pytest.fixture(scope="module")
def a0() -> nn.Module:
    """RepVGG-A0 (CIFAR form) in eval mode with non-trivial batch-norm statistics."""
    torch.manual_seed(0)
    return randomize_batch_norm(create_model("repvgg_a0", num_classes=10, in_chans=3, stem="cifar"))


def test_reparameterized_a0_gives_the_same_logits_with_plain_3x3_convs(a0):
    model = a0
    plain = reparameterize(model)
    assert not any(isinstance(m, RepVGGBlock | nn.BatchNorm2d) for m in plain.modules())
    convs = [m for m in plain.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 22 and all(c.kernel_size == (3, 3) for c in convs)
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
        got = plain(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))


def test_reparameterized_weights_load_into_the_deploy_form(a0):
    model = a0
    deploy = create_model("repvgg_a0", num_classes=10, in_chans=3, stem="cifar", deploy=True)
    deploy.load_state_dict(reparameterize(model).state_dict())
    widths, depths = (48, 48, 96, 192, 1280), (1, 2, 4, 14, 1)
    outs = [w for w, d in zip(widths, depths, strict=True) for _ in range(d)]
    convs = sum(9 * i * o + o for i, o in zip([3, *outs], outs, strict=False))
    assert parameter_count(deploy) == convs + 1280 * 10 + 10


def test_fuse_conv_bn_folds_every_branch_batch_norm(a0):
    model = a0
    fused = fuse_conv_bn(model)
    # the identity branch is a lone BN: it has no conv to be folded into
    identities = sum(isinstance(m, RepVGGBlock) and m.identity is not None for m in model.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fused.modules()) == identities == 18
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(
            fused(x), expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max())
        )


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("deploy", [False, True])
def test_every_variant_trains_on_32x32_images_in_both_forms(name, deploy):
    model = meta_model(name, num_classes=10, in_chans=1, input_size=32, deploy=deploy)
    with torch.device("meta"):
        x = torch.empty(2, 1, 32, 32)
        assert model.features(x).shape[-2:] == (4, 4)
        logits = model(x)
        logits.sum().backward()
    assert logits.shape == (2, 10)
    assert all(p.grad is not None for p in model.parameters())


def test_a0_forward_and_backward_on_cifar_images():
    torch.manual_seed(0)
    model = create_model("repvgg_a0", num_classes=10, in_chans=3, input_size=32)
    logits = model(torch.rand(2, 3, 32, 32))
    nn.functional.cross_entropy(logits, torch.tensor([0, 9])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_native_resolution_reaches_7x7():
    model = meta_model("repvgg_a0")
    with torch.device("meta"):
        assert model.features(torch.empty(1, 3, 224, 224)).shape == (1, 1280, 7, 7)


@pytest.mark.slow
def test_native_resolution_forward():
    model = create_model("repvgg_a0", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_too_small_input_is_a_geometry_error_naming_the_minimum():
    with pytest.raises(GeometryError, match="at least 32x32"):
        meta_model("repvgg_a0", input_size=16, stem="imagenet")
    with pytest.raises(GeometryError, match="at least 8x8"):
        meta_model("repvgg_a0", input_size=4)
    model = meta_model("repvgg_a0", stem="cifar")
    with pytest.raises(GeometryError, match="at least 8x8"), torch.device("meta"):
        model(torch.empty(1, 3, 6, 6))


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("repvgg_a0", in_chans=0)
    with pytest.raises(ConfigError, match="stem"):
        create_model("repvgg_a0", stem="tiny")
