"""DenseNet (cnnlab.models.densenet), Huang et al. (2017), Tables 1 and 2."""

import pytest
import torch
import torchvision
from torch import nn

from cnnlab.errors import ConfigError, GeometryError
from cnnlab.models import create_model, densenet, feature_extractor  # noqa: F401  (registers)
from cnnlab.models.densenet import CONFIGS, DenseNet, cifar_config
from cnnlab.models.registry import create_model_for_input
from cnnlab.nn.dense import DenseBlock
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import assert_same_logits_as_torchvision, meta_model

TABLE1_BLOCKS = {
    "densenet121": (6, 12, 24, 16),
    "densenet169": (6, 12, 32, 32),
    "densenet201": (6, 12, 48, 32),
    "densenet264": (6, 12, 64, 48),
}
# Table 2's networks (depth L, growth rate k, bottleneck + compression); their published
# parameter counts are checked by tests/models/test_zoo.py.
TABLE2 = (
    "densenet40_k12",
    "densenet100_k12",
    "densenet100_k24",
    "densenet_bc100_k12",
    "densenet_bc250_k24",
    "densenet_bc190_k40",
)


def test_densenet121_gives_the_logits_of_torchvision(tmp_path):
    assert_same_logits_as_torchvision("densenet121", tmp_path, input_size=32)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["densenet161", "densenet169", "densenet201"])
def test_larger_densenets_give_the_logits_of_torchvision(name, tmp_path):
    assert_same_logits_as_torchvision(name, tmp_path, input_size=32)


@pytest.mark.parametrize("name, blocks", TABLE1_BLOCKS.items())
def test_imagenet_densenets_have_the_blocks_of_table_1(name, blocks):
    features = meta_model(name).features
    layers = tuple(len(list(m.children())) for m in features if isinstance(m, DenseBlock))
    assert layers == blocks
    assert features.conv0.kernel_size == (7, 7) and features.conv0.out_channels == 64


def test_densenet161_grows_by_48_maps_from_a_96_map_stem():
    features = meta_model("densenet161").features
    assert features.conv0.out_channels == 96
    assert features.denseblock1.out_channels == 96 + 6 * 48


def test_cifar_depth_gives_the_layers_per_block():
    assert cifar_config(40, 12, bc=False).block_config == (12, 12, 12)
    bc = cifar_config(100, 12, bc=True)
    assert (bc.block_config, bc.init_features, bc.bn_size, bc.compression) == (
        (16,) * 3,
        24,
        4,
        0.5,
    )


def test_a_depth_that_does_not_fill_three_blocks_is_refused():
    with pytest.raises(ConfigError, match="depth"):
        cifar_config(101, 12, bc=True)


def _train_step(model, num_classes=10):
    torch.manual_seed(0)
    x, y = torch.rand(2, 3, 32, 32), torch.tensor([1, 7]) % num_classes
    logits = model(x)
    assert logits.shape == (2, num_classes)
    nn.functional.cross_entropy(logits, y).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_a_densenet_bc_trains_on_a_batch_of_cifar_images():
    """A DenseNet-BC of depth 16 (two layers per block) runs the code of the registered
    depths at a fraction of their cost; densenet_bc100_k12 itself is a slow test."""
    _train_step(DenseNet(cifar_config(16, 12, bc=True), num_classes=10, stem="cifar"))


@pytest.mark.slow
def test_densenet_bc100_trains_on_a_batch_of_cifar_images():
    _train_step(create_model("densenet_bc100_k12", num_classes=10, in_chans=3, drop_rate=0.2))


def test_small_inputs_get_the_cifar_stem_and_keep_32x32_maps_in_the_first_block():
    with torch.device("meta"):
        model = create_model_for_input("densenet121", 10, (3, 32, 32))
        maps = feature_extractor(model, ["features.denseblock1", "features.relu5"])(
            torch.empty(2, 3, 32, 32)
        )
    assert model.features.conv0.kernel_size == (3, 3) and "pool0" not in model.features._modules
    assert maps["features.denseblock1"].shape == (2, 256, 32, 32)
    assert maps["features.relu5"].shape == (2, 1024, 4, 4)


def test_densenet121_at_its_native_resolution():
    model = create_model("densenet121", num_classes=1000, in_chans=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_too_small_an_input_is_refused_with_the_minimum_size():
    with pytest.raises(GeometryError, match="29x29"):
        create_model("densenet121", stem="imagenet", input_size=28)
    model = create_model("densenet121", stem="imagenet")
    with pytest.raises(GeometryError, match="29x29"):
        model(torch.rand(1, 1, 28, 28))


def test_the_minimum_input_size_is_the_smallest_that_fits():
    """Shapes only, on the meta device: 29 pixels reach the last block, 28 do not."""
    with torch.device("meta"):
        model = create_model("densenet121", num_classes=10, in_chans=1, stem="imagenet").eval()
        assert model(torch.empty(1, 1, 29, 29)).shape == (1, 10)
        reference = torchvision.models.densenet121().features.eval()
        with pytest.raises(RuntimeError):
            reference(torch.empty(1, 3, 28, 28))


def test_zero_input_channels_are_refused():
    with pytest.raises(ConfigError, match="in_chans"):
        create_model("densenet_bc100_k12", in_chans=0)


def test_fusing_folds_the_stem_and_every_bottleneck_with_the_same_outputs():
    """Pre-activation BNs (norm1 of each layer, transitions, norm5) stay: they precede their
    convolutions.  conv0 -> norm0 and each conv1 -> norm2 fold (58 bottlenecks + stem)."""
    model = randomize_batch_norm(create_model("densenet121", in_chans=3, stem="imagenet"))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32), atol=1e-5)
    assert batch_norm_count(fused) == batch_norm_count(model) - 59


def test_torchvision_weights_load_into_another_head_and_input(tmp_path):
    path = tmp_path / "densenet121.pth"
    torch.save(torchvision.models.densenet121().state_dict(), path)
    with pytest.warns(UserWarning, match="head.fc.weight"):
        model = create_model("densenet121", num_classes=5, in_chans=1, weights=path)
    assert model.head.fc.out_features == 5 and model.features.conv0.in_channels == 1


def test_every_variant_is_a_row_of_the_table():
    assert set(CONFIGS) == set(TABLE1_BLOCKS) | {"densenet161"} | set(TABLE2)
