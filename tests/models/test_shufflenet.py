"""ShuffleNet v1 and v2 (cnnlab.models.shufflenet), Zhang et al. (2018) Table 1, Ma et al.
(2018) Table 5."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models import create_model, shufflenet  # noqa: F401  (registers the builders)
from cnnlab.models.registry import create_model_for_input
from cnnlab.models.shufflenet import V1_TABLE1, v1_config
from cnnlab.nn.shuffle import ShuffleUnit
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import assert_same_logits_as_torchvision, meta_model

V2_NAMES = ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]


def _train_step(model):
    torch.manual_seed(0)
    x, y = torch.rand(2, 3, 32, 32), torch.tensor([0, 9])
    logits = model(x)
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, y).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", V2_NAMES)
def test_shufflenet_v2_gives_the_logits_of_torchvision(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


@pytest.mark.parametrize("groups", sorted(V1_TABLE1))
def test_shufflenet_v1_has_the_stage_widths_of_table_1(groups):
    features = meta_model(f"shufflenet_v1_g{groups}").features
    stage2 = V1_TABLE1[groups][0]
    for stage, width, repeats in ((2, stage2, 4), (3, 2 * stage2, 8), (4, 4 * stage2, 4)):
        units = list(getattr(features, f"stage{stage}"))
        assert len(units) == repeats
        assert all(u.gconv1.conv.out_channels == width // 4 for u in units)  # bottleneck 1/4
        assert units[-1].gconv2.conv.out_channels == width
        assert all(u.gconv2.conv.groups == groups for u in units)


def test_the_first_pointwise_conv_of_stage_2_is_not_grouped():
    stage2 = meta_model("shufflenet_v1_g8").features.stage2
    assert stage2[0].gconv1.conv.groups == 1 and stage2[1].gconv1.conv.groups == 8


def test_shufflenet_v2_has_the_widths_of_table_5():
    features = meta_model("shufflenet_v2_x1_0").features
    stages = [getattr(features, f"stage{s}") for s in (2, 3, 4)]
    widths = [2 * stage[-1].branch2.pw2.conv.out_channels for stage in stages]
    convs = [features.conv1.conv.out_channels, features.conv5.conv.out_channels]
    assert [convs[0], *widths, convs[1]] == [24, 116, 232, 464, 1024]
    assert [len(stage) for stage in stages] == [4, 8, 4]


def test_scale_multiplies_every_width():
    assert v1_config(3, 0.5).widths == (12, 120, 240, 480)
    assert meta_model("shufflenet_v1_g3", scale=0.25).head.fc.in_features == 240


@pytest.mark.parametrize("groups, scale", [(8, 0.5), (5, 1.0), (3, 0.0)])
def test_widths_that_do_not_split_into_groups_are_refused(groups, scale):
    with pytest.raises(ConfigError):
        v1_config(groups, scale)


@pytest.mark.parametrize("name", ["shufflenet_v1_g3", "shufflenet_v2_x0_5"])
def test_cifar_form_trains_on_a_batch_of_32x32_images(name):
    model = create_model_for_input(name, 10, (3, 32, 32))
    assert model.features.conv1.conv.stride == (1, 1) and "maxpool" not in model.features._modules
    assert model.features(torch.rand(1, 3, 32, 32)).shape[-2:] == (4, 4)
    _train_step(model)


def test_shufflenet_v1_at_its_native_resolution():
    model = create_model("shufflenet_v1_g3", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.parametrize("side", [1, 7])
def test_any_input_size_fits(side):
    """Every layer pads to 'same', so even a 1x1 image reaches the classifier."""
    with torch.device("meta"):
        model = create_model("shufflenet_v2_x1_0", 10, in_chans=1, stem="imagenet").eval()
        assert model(torch.empty(2, 1, side, side)).shape == (2, 10)


def test_zero_input_channels_are_refused():
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("shufflenet_v1_g3", in_chans=0)


@pytest.mark.parametrize("name", ["shufflenet_v1_g3", "shufflenet_v2_x0_5"])
def test_fusing_folds_every_batch_norm_with_the_same_outputs(name):
    model = randomize_batch_norm(create_model(name, in_chans=3, stem="cifar"))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32), atol=1e-5)
    assert batch_norm_count(fused) == 0


def test_v1_units_shuffle_between_the_two_group_convolutions():
    unit = next(m for m in meta_model("shufflenet_v1_g3").modules() if isinstance(m, ShuffleUnit))
    assert list(unit._modules)[:4] == ["gconv1", "shuffle", "dwconv", "gconv2"]
    assert unit.shuffle.groups == 3
