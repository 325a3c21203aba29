"""Inception v3, Inception-v4 and Inception-ResNet-v2 (cnnlab.models.inception)."""

import pytest
import torch
import torchvision
from torch import nn

import cnnlab.models.inception  # noqa: F401  (registers the builders)
from cnnlab.errors import GeometryError
from cnnlab.models import create_model, load_torchvision_weights
from cnnlab.models.base import AuxLogits
from cnnlab.models.inception import InceptionV3Aux
from cnnlab.nn.inception import ScaledResidual
from tests.models.zoo_checks import assert_same_logits_as_torchvision, meta_model

NAMES = ["inception_v3", "inception_v4", "inception_resnet_v2"]


def stage_shapes(name: str, side: int, **kwargs) -> dict[str, tuple[int, ...]]:
    """Output shape of every child of ``features`` on the meta device."""
    model = meta_model(name, num_classes=10, **kwargs).eval()
    shapes = {}
    with torch.device("meta"):
        x = torch.empty(1, 3, side, side)
        for child, layer in model.features.named_children():
            x = layer(x)
            shapes[child] = tuple(x.shape[1:])
    return shapes


def test_same_logits_as_torchvision_inception_v3(tmp_path):
    assert_same_logits_as_torchvision(
        "inception_v3", tmp_path, input_size=80, tv_kwargs={"init_weights": False}
    )


def test_inception_v3_grid_sizes_are_those_of_table_1():
    shapes = stage_shapes("inception_v3", 299)
    assert shapes["maxpool2"] == (192, 35, 35)
    assert shapes["mixed_5d"] == (288, 35, 35)
    assert shapes["mixed_6e"] == (768, 17, 17)
    assert shapes["mixed_7c"] == (2048, 8, 8)


def test_inception_v4_and_resnet_v2_grid_sizes_are_those_of_the_figures():
    v4 = stage_shapes("inception_v4", 299)
    assert v4["mixed_5a"] == (384, 35, 35)  # Fig. 3
    assert v4["reduction_a"] == (1024, 17, 17)  # Fig. 9
    assert v4["inception_c3"] == (1536, 8, 8)
    irv2 = stage_shapes("inception_resnet_v2", 299)
    assert irv2["mixed_5b"] == (320, 35, 35)
    assert irv2["reduction_a"] == (1088, 17, 17)
    assert irv2["reduction_b"] == (2080, 8, 8)
    assert irv2["conv7b"] == (1536, 8, 8)


@pytest.mark.parametrize("name", NAMES)
def test_cifar_stem_keeps_32x32_up_to_the_first_grid_reduction(name):
    shapes = list(stage_shapes(name, 32, input_size=32).values())
    assert shapes[0][1:] == (32, 32)
    assert [s[1:] for s in shapes[-1:]] == [(7, 7)]
    assert min(s[1] for s in shapes if s[1] > 7) == 15


def test_inception_resnet_v2_scales_residuals_between_0_1_and_0_3():
    model = meta_model("inception_resnet_v2")
    blocks = [m for m in model.modules() if isinstance(m, ScaledResidual)]
    assert len(blocks) == 40
    assert {b.scale for b in blocks} == {0.17, 0.10, 0.20}
    assert isinstance(blocks[-1].act, nn.Identity)
    assert all(isinstance(b.act, nn.ReLU) for b in blocks[:-1])


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2"])
def test_forward_and_backward_at_the_minimum_imagenet_input(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=3, stem="imagenet")
    logits = model(torch.rand(2, 3, 75, 75))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("stem", "minimum"), [("imagenet", 75), ("cifar", 7)])
def test_inputs_below_the_minimum_size_raise_geometry_error(name, stem, minimum):
    with pytest.raises(GeometryError, match=f"{minimum}x{minimum}"):
        create_model(name, in_chans=3, stem=stem, input_size=minimum - 1)
    model = meta_model(name, stem=stem).eval()
    with torch.device("meta"):
        with pytest.raises(GeometryError, match=f"{minimum}x{minimum}"):
            model(torch.empty(1, 3, minimum - 1, minimum - 1))
        assert model(torch.empty(1, 3, minimum, minimum)).shape == (1, 1000)


def test_inception_v3_aux_classifier_is_built_only_when_its_input_is_large_enough():
    assert len(meta_model("inception_v3").aux) == 1
    assert len(meta_model("inception_v3", input_size=128).aux) == 0
    assert len(meta_model("inception_v3", input_size=32).aux) == 0
    with pytest.raises(GeometryError, match="299x299"):
        meta_model("inception_v3", input_size=128, aux_logits=True)
    with pytest.raises(GeometryError, match="35x35"):
        meta_model("inception_v3", input_size=32, aux_logits=True)


def test_inception_v3_aux_classifier_maps_17x17_to_logits_and_refuses_less():
    aux = InceptionV3Aux(768, 10).eval()
    with torch.no_grad():
        assert aux(torch.rand(2, 768, 17, 17)).shape == (2, 10)
        with pytest.raises(GeometryError, match="17x17"):
            aux(torch.rand(2, 768, 15, 15))


def test_inception_v3_weights_for_another_class_count_reinitialize_both_classifiers(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "inception_v3.pth"
    torch.save(torchvision.models.inception_v3(init_weights=False).state_dict(), path)
    with pytest.warns(UserWarning, match="re-initialised") as record:
        model = create_model(
            "inception_v3", num_classes=7, in_chans=1, weights=path, stem="imagenet"
        )
    assert "aux.mixed_6e.fc.weight" in str(record[0].message)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 1, 75, 75)).shape == (1, 7)


@pytest.mark.slow
def test_training_mode_returns_the_same_auxiliary_logits_as_torchvision():
    torch.manual_seed(0)
    reference = torchvision.models.inception_v3(num_classes=5, init_weights=False)
    model = create_model("inception_v3", num_classes=5, in_chans=3)
    load_torchvision_weights(model, reference.state_dict())
    x = torch.rand(2, 3, 299, 299)
    torch.manual_seed(1)
    expected = reference.train()(x)
    torch.manual_seed(1)
    got = model.train()(x)
    assert isinstance(got, AuxLogits) and got.aux_weight == 0.4
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.aux[0], expected.aux_logits)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_cifar_form_forward_and_backward_at_32x32(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_chans=3, input_size=32)
    logits = model(torch.rand(2, 3, 32, 32))
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2"])
def test_forward_at_native_resolution(name):
    model = create_model(name, num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 299, 299)).shape == (1, 1000)
