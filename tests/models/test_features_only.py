"""create_model(name, features_only=True, out_indices=...): timm's interface for every model.

Every registered model is checked on the ``meta`` device (shapes only, so even
ConvNeXt-XL costs nothing): one map per stage, channels and reductions as
``feature_info`` says, reductions measured from two input sizes.  One model per
family is checked for values on the CPU (the maps are the activations of the
full network), and ResNet-18 and MobileNetV2 against torchvision's own feature
extractor with the same weights.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from cnnlab.errors import ConfigError
from cnnlab.models import create_model, list_models
from cnnlab.models.registry import model_info
from cnnlab.models.stages import trunk_of
from cnnlab.nn.hooks import capture_activations

#: Models whose unpadded stems need more than 64 pixels.
LARGE_INPUT = {"alexnet_original", "inception_v3", "inception_v4", "inception_resnet_v2"}


def _options(name: str) -> dict:
    """The model's reference options (num_classes, in_chans), 3 channels by default."""
    return {"in_chans": 3, **model_info(name).kwargs}


def _side(name: str, reductions: list[int]) -> int:
    return 96 if name in LARGE_INPUT else (32 if max(reductions) <= 4 else 64)


#: A multilayer perceptron (no maps) and models built on another model's feature maps.
NO_STAGES = ("highway_mlp", "fasterrcnn", "retinanet", "fcn8s", "fcn16s", "fcn32s")


def _spatial_models() -> list:
    """Every model with stages; one per family (module) runs by default, the others
    are marked slow (a meta-device pass costs ~1 ms per layer: ResNet-1202 takes seconds)."""
    names = [n for n in list_models() if n not in NO_STAGES]
    families: dict[str, str] = {}
    for name in sorted(names, key=lambda n: (len(n), n)):
        families.setdefault(model_info(name).builder.__module__, name)
    fast = set(families.values())
    return [n if n in fast else pytest.param(n, marks=pytest.mark.slow) for n in names]


@pytest.mark.parametrize("name", _spatial_models())
def test_every_model_returns_one_map_per_stage_as_feature_info_says(name):
    options = _options(name)
    with torch.device("meta"):
        model = create_model(name, features_only=True, **options).eval()
    info = model.feature_info
    reductions = info.reduction()
    assert len(info) >= 2
    assert all(a < b for a, b in itertools.pairwise(reductions))
    assert [entry["index"] for entry in info] == list(range(len(info)))
    side = _side(name, reductions)
    sizes = []
    for s in (side, side + 64):
        with torch.no_grad():
            maps = model(torch.empty(1, options["in_chans"], s, s, device="meta"))
        assert isinstance(maps, list) and len(maps) == len(info)
        assert [m.shape[1] for m in maps] == info.channels()
        assert all(m.shape[-1] >= 1 for m in maps)
        sizes.append([m.shape[-1] for m in maps])
    # 64 more input pixels give 64 / reduction more output pixels, whatever the padding
    assert [64 / (b - a) for a, b in zip(*sizes, strict=True)] == reductions


#: Models of different trunk structures (plain chains, nested stages, dense blocks,
#: valid convolutions, a ModuleList encoder), with options that keep them small.
FAMILY_SAMPLES = {
    "densenet40_k12": {},
    "lenet5": {},
    "mobilenet_v3_small": {"input_size": 64},
    "resnet18": {"block": "preact_basic"},  # the last stage ends with a norm, not a block
    "resnet20": {},
    "shufflenet_v2_x0_5": {},
    "simple_cnn": {},
    "squeezenet1_1": {},
    "unet_small": {},
    "vgg11_bn": {"input_size": 32},
}


@pytest.mark.parametrize("name", FAMILY_SAMPLES)
def test_maps_are_the_activations_of_the_full_network(name):
    options = {**_options(name), **FAMILY_SAMPLES[name]}
    torch.manual_seed(0)
    model = create_model(name, features_only=True, **options).eval()
    info = model.feature_info
    side = options.get("input_size") or _side(name, info.reduction())
    x = torch.rand(1, options["in_chans"], side, side)
    with torch.no_grad():
        maps = model(x)
        with capture_activations(model.model, info.module_name()) as expected:
            trunk_of(model.model)(x)  # the whole trunk, not stopped early
    assert len(maps) == len(info) >= 3
    for got, module in zip(maps, info.module_name(), strict=True):
        torch.testing.assert_close(got, expected[module], rtol=0, atol=0)
    head = getattr(model.model, "head", None)
    assert head is None or isinstance(head, nn.Identity)


def test_out_indices_select_stages_and_the_pass_stops_after_the_last():
    model = create_model("resnet18", features_only=True, out_indices=(1, 2), in_chans=3).eval()
    ran = []
    model.model.features.layer3.register_forward_pre_hook(lambda *_: ran.append("layer3"))
    maps = model(torch.rand(1, 3, 64, 64))
    assert [m.shape[1:] for m in maps] == [(64, 16, 16), (128, 8, 8)]
    assert model.feature_info.module_name() == ["features.layer1", "features.layer2"]
    assert [entry["index"] for entry in model.feature_info] == [1, 2]
    assert not ran


def test_resnet50_stages_are_timms():
    """timm's resnet50.feature_info: channels 64-2048 at strides 2-32 (act1, layer1-4)."""
    with torch.device("meta"):
        model = create_model("resnet50", features_only=True, num_classes=1000, in_chans=3)
    assert model.feature_info.channels() == [64, 256, 512, 1024, 2048]
    assert model.feature_info.reduction() == [2, 4, 8, 16, 32]
    assert model.feature_info.module_name() == [
        "features.stem",
        *(f"features.layer{i}" for i in range(1, 5)),
    ]
    assert model.feature_info[1] == {
        "num_chs": 256,
        "reduction": 4,
        "module": "features.layer1",
        "index": 1,
    }


def test_cifar_stages_start_at_full_resolution():
    with torch.device("meta"):
        model = create_model("resnet20", features_only=True, num_classes=10, in_chans=3)
    assert model.feature_info.channels() == [16, 32, 64]
    assert model.feature_info.reduction() == [1, 2, 4]


@pytest.mark.parametrize(
    ("name", "nodes", "out_indices"),
    [
        ("resnet18", ["relu", "layer1", "layer2", "layer3", "layer4"], None),
        # torchvision's features.1/3/6/13/18: the last block at strides 2, 4, 8, 16 and the 1x1 conv
        ("mobilenet_v2", [f"features.{i}" for i in (1, 3, 6, 13, 18)], None),
    ],
)
def test_maps_equal_torchvisions_feature_extractor(name, nodes, out_indices, tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.get_model(model_info(name).torchvision).eval()
    for module in reference.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "weights.pth"
    torch.save(reference.state_dict(), path)
    options = {"num_classes": 1000, "in_chans": 3, "weights": path, "out_indices": out_indices}
    model = create_model(name, features_only=True, **options).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = list(create_feature_extractor(reference, nodes)(x).values())
        got = model(x)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("out_indices", [(5,), (0, 0), (), (-1,)])
def test_bad_out_indices_name_the_valid_stages(out_indices):
    with pytest.raises(ConfigError, match=r"0: features\.layer1 \(/1\).*from 0 to 2"):
        create_model("resnet20", features_only=True, out_indices=out_indices)


def test_out_indices_without_features_only_is_refused():
    with pytest.raises(ConfigError, match="features_only=True"):
        create_model("resnet20", out_indices=(1,))


def test_a_multilayer_perceptron_has_no_feature_maps():
    with pytest.raises(ConfigError, match="no feature maps"):
        create_model("highway_mlp", features_only=True)


@pytest.mark.parametrize("name", [n for n in NO_STAGES[1:] if n in list_models()])
def test_a_model_built_on_a_backbone_points_to_it(name):
    with torch.device("meta"), pytest.raises(ConfigError, match="backbone"):
        create_model(name, features_only=True, **model_info(name).kwargs)
