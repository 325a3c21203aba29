"""GoogLeNet / Inception v1 (cnnlab.models.googlenet), Szegedy et al. (2015)."""

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnnlab.models.googlenet  # noqa: F401  (registers the builders)
from cnnlab.errors import GeometryError
from cnnlab.models import create_model, load_torchvision_weights
from cnnlab.models.base import AuxLogits
from tests.batchnorm_helpers import (
    assert_fusion_keeps_outputs,
    batch_norm_count,
    randomize_batch_norm,
)
from tests.models.zoo_checks import assert_same_logits_as_torchvision

# Table 1, "ops" column (millions of multiply-adds at 224x224) and the input
# side of each row.  Two rows disagree with the table's own filter counts and
# are left out: conv1 (34M listed; 7x7x3x64 filters at 112x112 cost 118M) and
# inception 5a (54M listed; its filters at 7x7 cost 51.1M).
TABLE1_OPS = {
    ("conv2", "conv3"): (360, 56),
    ("inception3a",): (128, 28),
    ("inception3b",): (304, 28),
    ("inception4a",): (73, 14),
    ("inception4b",): (88, 14),
    ("inception4c",): (100, 14),
    ("inception4d",): (119, 14),
    ("inception4e",): (170, 14),
    ("inception5b",): (71, 7),
}


def test_same_logits_as_torchvision_googlenet(tmp_path):
    assert_same_logits_as_torchvision(
        "googlenet", tmp_path, input_size=64, stem="imagenet", tv_kwargs={"init_weights": False}
    )


def test_training_mode_returns_the_same_auxiliary_logits_as_torchvision():
    torch.manual_seed(0)
    reference = torchvision.models.googlenet(num_classes=5, init_weights=False)
    model = create_model("googlenet", num_classes=5, in_chans=3, stem="imagenet")
    load_torchvision_weights(model, reference.state_dict())
    x = torch.rand(2, 3, 32, 32)
    torch.manual_seed(1)
    expected = reference.train()(x)
    torch.manual_seed(1)
    got = model.train()(x)
    assert isinstance(got, AuxLogits) and got.aux_weight == 0.3
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.aux[0], expected.aux_logits1)
    torch.testing.assert_close(got.aux[1], expected.aux_logits2)


def test_eval_mode_and_aux_logits_false_return_plain_logits():
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert create_model("googlenet", 10, in_chans=3, stem="imagenet").eval()(x).shape == (2, 10)
        plain = create_model("googlenet", 10, in_chans=3, stem="imagenet", aux_logits=False).train()
        assert len(plain.aux) == 0
        assert plain(x).shape == (2, 10)


def test_cifar_form_forward_and_backward_at_32x32():
    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=10, in_chans=3, input_size=32)
    assert list(model.features)[:2] == [model.features.conv1, model.features.inception3a]
    output = model(torch.rand(2, 3, 32, 32))
    assert isinstance(output, AuxLogits) and len(output.aux) == 2
    labels = torch.tensor([1, 2])
    loss = sum(nn.functional.cross_entropy(o, labels) for o in (output.logits, *output.aux))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        assert model.eval().features(torch.rand(1, 3, 32, 32)).shape == (1, 1024, 8, 8)


def test_paper_form_reproduces_the_ops_column_of_table_1():
    model = create_model("googlenet_paper", num_classes=1000, in_chans=3, aux_logits=False)
    features = dict(model.features.named_children())
    channels = {"conv2": 64, "inception3a": 192}
    for names, (ops_millions, side) in TABLE1_OPS.items():
        first = features[names[0]]
        in_ch = channels.get(names[0]) or next(first.parameters()).shape[1]
        with torch.device("meta"), FlopCounterMode(display=False) as counter:
            x = torch.empty(1, in_ch, side, side)
            for name in names:
                x = features[name](x)
        assert counter.get_total_flops() / 2e6 == pytest.approx(ops_millions, rel=0.01), names


def test_paper_form_has_5x5_branches_lrn_and_no_batch_norm():
    model = create_model("googlenet_paper", in_chans=3)
    modules = list(model.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in modules)
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in modules) == 2
    assert model.features.inception3a.branch3[1].conv.kernel_size == (5, 5)
    assert model.features.inception3a.branch3[1].conv.bias is not None


@pytest.mark.parametrize(
    ("name", "stem", "minimum"),
    [
        ("googlenet", "imagenet", 15),
        ("googlenet_paper", "imagenet", 31),
        ("googlenet", "cifar", 2),
        ("googlenet_paper", "cifar", 4),
    ],
)
def test_inputs_below_the_minimum_size_raise_geometry_error(name, stem, minimum):
    with pytest.raises(GeometryError, match=f"{minimum}x{minimum}"):
        create_model(name, in_chans=3, stem=stem, input_size=minimum - 1)
    with torch.device("meta"):
        model = create_model(name, num_classes=10, in_chans=3, stem=stem).eval()
        with pytest.raises(GeometryError, match=f"{minimum}x{minimum}"):
            model(torch.empty(1, 3, minimum - 1, minimum - 1))
        assert model(torch.empty(1, 3, minimum, minimum)).shape == (1, 10)


def test_fuse_conv_bn_keeps_the_outputs():
    torch.manual_seed(0)
    model = randomize_batch_norm(create_model("googlenet", in_chans=3, stem="imagenet"))
    fused = assert_fusion_keeps_outputs(model, torch.rand(2, 3, 32, 32))
    assert batch_norm_count(fused) == 0


def test_torchvision_weights_for_another_class_count_reinitialize_all_classifiers(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "googlenet.pth"
    torch.save(torchvision.models.googlenet(init_weights=False).state_dict(), path)
    with pytest.warns(UserWarning, match="re-initialised") as record:
        model = create_model("googlenet", num_classes=7, in_chans=1, weights=path, stem="imagenet")
    message = str(record[0].message)
    assert all(k in message for k in ("head.fc.weight", "aux.inception4a.fc2", "features.conv1"))
    assert model.eval()(torch.rand(2, 1, 32, 32)).shape == (2, 7)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["googlenet", "googlenet_paper"])
def test_forward_and_backward_at_native_resolution(name):
    model = create_model(name, num_classes=1000, in_chans=3)
    output = model(torch.rand(2, 3, 224, 224))
    assert output.logits.shape == (2, 1000) and [a.shape for a in output.aux] == [(2, 1000)] * 2
    output.logits.sum().backward()
