"""create_model(name, pretrained=True): torchvision's weight files from the local caches."""

from __future__ import annotations

import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models import create_model
from cnnlab.models.pretrained import WEIGHTS_ENV, pretrained_weights


def _torchvision_model(name: str) -> nn.Module:
    """A random-initialised torchvision model whose batch-norm statistics are random too."""
    torch.manual_seed(0)
    model = torchvision.models.get_model(name).eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """An empty TORCH_HOME and no CNNLAB_WEIGHTS."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    return tmp_path


def test_pretrained_loads_the_file_from_the_torch_hub_cache(caches):
    reference = _torchvision_model("resnet18")
    folder = caches / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(reference.state_dict(), folder / "resnet18-f37072fd.pth")
    model = create_model("resnet18", pretrained=True).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)
    assert model.pretrained_cfg.name == "ResNet18_Weights.IMAGENET1K_V1"


def test_weights_by_name_come_from_the_cnnlab_weights_folder(caches, monkeypatch):
    reference = _torchvision_model("mobilenet_v2")
    monkeypatch.setenv(WEIGHTS_ENV, str(caches))
    torch.save(reference.state_dict(), caches / "mobilenet_v2-7ebf99e0.pth")  # IMAGENET1K_V2
    model = create_model("mobilenet_v2", weights="IMAGENET1K_V2").eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


def test_a_missing_file_names_it_and_where_to_put_it(caches):
    with pytest.raises(ConfigError) as error:
        create_model("resnet50", weights="DEFAULT")
    message = str(error.value)
    assert "resnet50-11ad3fa6.pth" in message  # IMAGENET1K_V2, torchvision's DEFAULT
    assert "https://download.pytorch.org/models/resnet50-11ad3fa6.pth" in message
    assert str(caches / "torch" / "hub" / "checkpoints") in message
    assert WEIGHTS_ENV in message


def test_a_model_without_torchvision_weights_says_to_pass_a_file(caches):
    with pytest.raises(ConfigError, match="no torchvision weights"):
        create_model("resnet20", pretrained=True)


def test_an_unknown_weights_name_lists_the_known_ones(caches):
    with pytest.raises(ConfigError, match="IMAGENET1K_V1, DEFAULT"):
        create_model("resnet18", weights="IMAGENET21K")


def test_pretrained_and_a_weights_file_together_are_refused(caches):
    with pytest.raises(ConfigError, match="not both"):
        create_model("resnet18", pretrained=True, weights="resnet18.pth")


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_large", "efficientnet_b3"])
def test_preprocessing_is_torchvisions(name):
    enum = torchvision.models.get_model_weights(name).DEFAULT
    preprocessing = pretrained_weights(name, name).preprocessing
    expected = enum.transforms()
    assert preprocessing.input_size == expected.crop_size[0]
    assert preprocessing.resize_size == expected.resize_size[0]
    assert preprocessing.mean == tuple(expected.mean)
    assert preprocessing.std == tuple(expected.std)
    assert preprocessing.interpolation == expected.interpolation.value
    image = Image.fromarray(torch.randint(0, 256, (300, 400, 3), dtype=torch.uint8).numpy())
    torch.testing.assert_close(preprocessing.transforms()(image), expected(image))


def test_googlenet_weights_expect_inputs_in_minus_one_to_one():
    """torchvision's pretrained GoogLeNet rescales ImageNet-normalized input to [-1, 1]
    inside (transform_input=True); cnnlab's preprocessing does it before the network."""
    torch.manual_seed(0)
    options = {"aux_logits": False, "init_weights": False}
    inside = torchvision.models.googlenet(transform_input=True, **options)
    outside = torchvision.models.googlenet(transform_input=False, **options)
    outside.load_state_dict(inside.state_dict())
    enum = torchvision.models.get_model_weights("googlenet").DEFAULT
    preprocessing = pretrained_weights("googlenet", "googlenet").preprocessing
    assert preprocessing.mean == preprocessing.std == (0.5, 0.5, 0.5)
    image = Image.fromarray(torch.randint(0, 256, (240, 260, 3), dtype=torch.uint8).numpy())
    with torch.no_grad():
        expected = inside.eval()(enum.transforms()(image).unsqueeze(0))
        got = outside.eval()(preprocessing.transforms()(image).unsqueeze(0))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
