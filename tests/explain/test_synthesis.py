"""Class-model visualization, Gram matrices, style transfer, VGG-19 weights, shape bias."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from cnnlab.errors import CheckpointError, DataError
from cnnlab.explain.synthesis import (
    class_model_visualization,
    gram_matrix,
    load_cue_conflict,
    shape_bias,
    style_transfer,
    vgg19_features,
)


def test_class_model_visualization_raises_the_class_score_and_stays_in_range(model):
    start = torch.full((1, 3, 8, 8), 0.5, dtype=torch.float64)
    image = class_model_visualization(model, start, 1, steps=20)
    with torch.no_grad():
        assert model(image)[0, 1] > model(start)[0, 1]
    assert image.min() >= 0 and image.max() <= 1
    assert image.shape == start.shape


def test_class_model_visualization_is_reproducible_with_a_seed(model):
    start = torch.full((1, 3, 8, 8), 0.5, dtype=torch.float64)
    torch.testing.assert_close(
        class_model_visualization(model, start, 0, steps=5, seed=2),
        class_model_visualization(model, start, 0, steps=5, seed=2),
    )


def test_gram_matrix_is_normalized_feature_correlation():
    features = torch.rand(2, 3, 4, 5, dtype=torch.float64)
    flat = features.flatten(2)
    expected = torch.einsum("nci,ndi->ncd", flat, flat) / (3 * 4 * 5)
    torch.testing.assert_close(gram_matrix(features), expected)


def _tiny_extractor() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 4, 3, padding=1),
            relu1=nn.ReLU(inplace=True),
            conv2=nn.Conv2d(4, 4, 3, padding=1),
            relu2=nn.ReLU(inplace=True),
        )
    )


def _style_loss(extractor, image, style) -> float:
    with torch.no_grad():
        return float(
            (gram_matrix(extractor[:2](image)) - gram_matrix(extractor[:2](style))).pow(2).sum()
        )


def test_style_transfer_moves_the_image_towards_the_style():
    content = torch.rand(1, 3, 12, 12)
    style = torch.rand(1, 3, 16, 16) * 0.2 + 0.8
    extractor = _tiny_extractor()
    result = style_transfer(
        content, style, extractor, content_layer="relu2", style_layers=["relu1"], steps=30
    )
    assert result.shape == content.shape and result.min() >= 0 and result.max() <= 1
    assert _style_loss(extractor, result, style) < _style_loss(extractor, content, style)


def test_vgg19_features_load_a_torchvision_state_dict(tmp_path):
    reference = make_layers(cfgs["E"])
    state = {f"features.{k}": v for k, v in reference.state_dict().items()}
    torch.save(state, tmp_path / "vgg19.pth")
    model = vgg19_features(tmp_path / "vgg19.pth")
    torch.testing.assert_close(model.conv5_4.weight, reference[34].weight)
    assert model.relu4_2 is not None and not model.relu4_2.inplace


def test_vgg19_features_refuse_a_file_of_another_model(tmp_path):
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a torchvision VGG-19"):
        vgg19_features(tmp_path / "other.pth")


class _Lookup(nn.Module):
    """Predicts class round(10·mean pixel): the image's mean encodes the decision."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        decision = (10 * x.mean((1, 2, 3))).round().long()
        return nn.functional.one_hot(decision, 10).float()


def test_shape_bias_counts_shape_decisions_among_shape_or_texture_decisions():
    decisions = torch.tensor([1, 1, 1, 2, 5])
    images = (decisions.float() / 10).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)
    shapes, textures = torch.tensor([1, 1, 1, 3, 4]), torch.tensor([2, 2, 2, 2, 6])
    result = shape_bias(_Lookup(), images, shapes, textures, restrict=False)
    assert result.shape_bias == pytest.approx(3 / 4)
    assert (result.shape_fraction, result.texture_fraction) == (3 / 5, 1 / 5)
    assert result.images == 5


def test_shape_bias_ignores_images_whose_shape_and_texture_agree():
    images = torch.full((2, 1, 4, 4), 0.1)
    result = shape_bias(_Lookup(), images, torch.tensor([1, 1]), torch.tensor([1, 2]))
    assert result.images == 1 and result.shape_bias == 1.0


def test_load_cue_conflict_reads_geirhos_file_names(tmp_path):
    for shape, name in (
        ("cat", "cat1-dog2.png"),
        ("dog", "dog3-cat1.png"),
        ("car", "car1-cat2.png"),
    ):
        (tmp_path / shape).mkdir(exist_ok=True)
        Image.new("L", (6, 6), 128).save(tmp_path / shape / name)
    images, shapes, textures = load_cue_conflict(tmp_path, ["cat", "dog"], (1, 4, 4))
    assert images.shape == (2, 1, 4, 4)
    assert (shapes.tolist(), textures.tolist()) == ([0, 1], [1, 0])


def test_load_cue_conflict_takes_a_texture_that_is_a_class_name_whole(tmp_path):
    (tmp_path / "3").mkdir()
    for name in ("3_0-7.png", "3_1-71.png"):
        Image.new("L", (6, 6), 128).save(tmp_path / "3" / name)
    _, shapes, textures = load_cue_conflict(tmp_path, [str(d) for d in range(10)], (1, 4, 4))
    assert (shapes.tolist(), textures.tolist()) == ([3], [7])  # "71" is no class: skipped


def test_load_cue_conflict_says_what_layout_it_expects(tmp_path):
    with pytest.raises(DataError, match="<shape>"):
        load_cue_conflict(tmp_path, ["cat"], (1, 4, 4))
