"""SqueezeNet 1.0 and 1.1 (cnnlab.models.squeezenet), Iandola et al. (2016), Table 1."""

import pytest
import torch
import torchvision
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, squeezenet  # noqa: F401  (registers the builders)
from cnnlab.models.registry import create_model_for_input
from cnnlab.nn.fire import Fire
from tests.batchnorm_helpers import assert_fusion_keeps_outputs
from tests.models.zoo_checks import assert_same_logits_as_torchvision, meta_model

TABLE1_LAYERS = [
    "conv1", "relu1", "maxpool1", "fire2", "fire3", "fire4", "maxpool4",
    "fire5", "fire6", "fire7", "fire8", "maxpool8", "fire9",
]  # fmt: skip


@pytest.mark.parametrize("name", ["squeezenet1_0", "squeezenet1_1"])
def test_squeezenet_gives_the_logits_of_torchvision(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=48)


def test_squeezenet1_0_has_the_layers_of_table_1():
    features = meta_model("squeezenet1_0").features
    assert list(features._modules) == TABLE1_LAYERS
    assert (features.conv1.out_channels, features.conv1.kernel_size) == (96, (7, 7))
    fires = [m for m in features if isinstance(m, Fire)]
    assert [f.squeeze.out_channels for f in fires] == [16, 16, 32, 32, 48, 48, 64, 64]
    assert all(f.expand1x1.out_channels == f.expand3x3.out_channels for f in fires)
    assert all(f.expand1x1.out_channels == 4 * f.squeeze.out_channels for f in fires)


def test_squeezenet1_1_pools_after_fire3_and_fire5():
    names = list(meta_model("squeezenet1_1").features._modules)
    assert [n for n in names if n.startswith("maxpool")] == ["maxpool1", "maxpool3", "maxpool5"]


def test_the_classifier_is_a_1x1_conv_per_class_then_global_average_pooling():
    head = meta_model("squeezenet1_0", num_classes=7).head
    assert list(head._modules) == ["dropout", "conv10", "relu10", "avgpool10"]
    assert (head.conv10.out_channels, head.conv10.kernel_size) == (7, (1, 1))
    assert not any(isinstance(m, nn.Linear) for m in head.modules())


def test_cifar_form_trains_on_a_batch_of_32x32_images():
    torch.manual_seed(0)
    model = create_model_for_input("squeezenet1_1", 10, (3, 32, 32))
    assert model.features.conv1.stride == (1, 1) and "maxpool1" not in model.features._modules
    x, y = torch.rand(2, 3, 32, 32), torch.tensor([2, 9])
    assert model.features(x).shape == (2, 512, 8, 8)
    logits = model(x)
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, y).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_squeezenet1_1_at_its_native_resolution():
    model = create_model("squeezenet1_1", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.parametrize("name, minimum", [("squeezenet1_0", 21), ("squeezenet1_1", 17)])
def test_too_small_an_input_is_refused_with_the_minimum_size(name, minimum):
    with pytest.raises(GeometryError, match=f"{minimum}x{minimum}"):
        create_model(name, stem="imagenet", input_size=minimum - 1)
    model = create_model(name, stem="imagenet")
    with pytest.raises(GeometryError, match=f"{minimum}x{minimum}"):
        model(torch.rand(1, 1, minimum - 1, minimum - 1))


@pytest.mark.parametrize("name, minimum", [("squeezenet1_0", 21), ("squeezenet1_1", 17)])
def test_the_minimum_input_size_is_the_smallest_that_fits(name, minimum):
    """Shapes only, on the meta device; torchvision's metadata gives the same minimum."""
    with torch.device("meta"):
        assert create_model(name, num_classes=10, in_chans=1, stem="imagenet")(
            torch.empty(1, 1, minimum, minimum)
        ).shape
        reference = torchvision.models.get_model(name).features
        with pytest.raises(RuntimeError):
            reference(torch.empty(1, 3, minimum - 1, minimum - 1))
    assert torchvision.models.get_model_weights(name).DEFAULT.meta["min_size"] == (minimum,) * 2


def test_the_cifar_form_needs_4_pixels():
    with pytest.raises(GeometryError, match="4x4"):
        create_model("squeezenet1_0", stem="cifar", input_size=3)


def test_zero_classes_are_refused():
    with pytest.raises(ConfigError, match="num_classes"):
        create_model("squeezenet1_0", num_classes=0)


def test_fusing_leaves_squeezenet_unchanged():
    """SqueezeNet has no batch normalization: nothing to fold, the same outputs."""
    model = create_model("squeezenet1_1", in_chans=3, input_size=32).eval()
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32), atol=1e-6)
    assert len(list(fused.modules())) == len(list(model.modules()))


def test_torchvision_weights_load_into_another_number_of_classes(tmp_path):
    """The class scores come from conv10, which is re-initialised for the new classes."""
    path = tmp_path / "squeezenet1_1.pth"
    torch.save(torchvision.models.squeezenet1_1().state_dict(), path)
    with pytest.warns(UserWarning, match="head.conv10.weight"):
        model = create_model("squeezenet1_1", num_classes=10, in_chans=1, weights=path)
    assert model.head.conv10.out_channels == 10 and model.features.conv1.in_channels == 1
