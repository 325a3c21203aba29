"""The model registry (cnnlab.models.registry): one way to register a model."""

import importlib

import pytest
import torch
from torch import nn

from cnnlab.models import create_model, list_models, model_description, model_info
from cnnlab.models.registry import default_options
from cnnlab.models.resnet import resnet50


@pytest.mark.parametrize("name", list_models())
def test_every_model_is_a_module_level_function_of_its_name(name):
    builder = model_info(name).builder
    module = importlib.import_module(builder.__module__)
    assert builder.__name__ == builder.__qualname__ == name
    assert getattr(module, name) is builder


@pytest.mark.parametrize("name", list_models())
def test_every_model_has_a_docstring_whose_first_line_describes_it(name):
    doc = model_info(name).builder.__doc__
    assert doc and doc.strip()
    assert model_description(name) == doc.strip().splitlines()[0]


def test_a_model_can_be_imported_from_its_family_by_name():
    assert model_info("resnet50").builder is resnet50


#: Published (num_classes, in_chans) of the models without a Reference in the registry.
PAPER_VALUES = {
    "efficientnet": (1000, 3),  # Tan & Le 2019, ImageNet
    "highway_cnn": (10, 3),  # Srivastava et al. 2015, Sec. 4.1, CIFAR-10
    "highway_mlp": (10, 1),  # Srivastava et al. 2015, Sec. 4.1, MNIST
    "lenet5_modern": (10, 1),  # MNIST digits
    "simple_cnn": (10, 1),  # cnnlab's digits-sized network
    "unet": (2, 1),  # Ronneberger et al. 2015, Fig. 1
    "unet_small": (2, 1),
    "fcn8s": (21, 3),  # Long et al. 2015, PASCAL VOC
    "fcn16s": (21, 3),
    "fcn32s": (21, 3),
    "yolov1": (20, 3),  # Redmon et al. 2016, PASCAL VOC
    "fasterrcnn": (80, 3),  # COCO
    "retinanet": (80, 3),  # COCO
}
#: Models whose output is not class scores (denoisers, autoencoders) or whose defaults
#: follow cnnlab's seg-canvas data rather than the paper (SegNet: CamVid, 11 classes, RGB).
NOT_PAPER = {"conv_autoencoder", "unet_n2v", "segnet", "segnet_small"}


def _paper_value(name: str) -> tuple[int, int] | None:
    info = model_info(name)
    if info.reference is not None:
        return info.reference.num_classes, info.reference.input_shape[0]
    if "num_classes" in info.kwargs and "in_chans" in info.kwargs:
        return info.kwargs["num_classes"], info.kwargs["in_chans"]
    return PAPER_VALUES.get(name)


@pytest.mark.parametrize("name", [n for n in list_models() if n not in NOT_PAPER])
def test_every_model_defaults_to_its_published_classes_and_channels(name):
    paper = _paper_value(name)
    assert paper is not None, f"add the published (num_classes, in_chans) of {name}"
    assert default_options(name) == {"num_classes": paper[0], "in_chans": paper[1]}


@pytest.mark.parametrize(
    ("name", "num_classes", "in_chans"),
    [("resnet18", 1000, 3), ("resnet20", 10, 3), ("lenet5", 10, 1), ("unet_small", 2, 1)],
)
def test_create_model_without_options_builds_the_published_network(name, num_classes, in_chans):
    with torch.device("meta"):
        model = create_model(name)
        first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        output = model.eval()(torch.empty(1, in_chans, 32, 32, device="meta"))
    assert first.in_channels == in_chans
    assert output.shape[1] == num_classes


def test_explicit_classes_and_channels_override_the_defaults():
    with torch.device("meta"):
        model = create_model("resnet18", num_classes=7, in_chans=1).eval()
        output = model(torch.empty(1, 1, 32, 32, device="meta"))
    assert output.shape == (1, 7)


def test_list_models_filters_by_shell_pattern():
    assert list_models("resnet*") == [n for n in list_models() if n.startswith("resnet")]
    assert "resnet18" in list_models("resnet*") and "se_resnet50" not in list_models("resnet*")
    assert list_models("vgg1?_bn") == ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
    assert list_models("no-such-model*") == []
