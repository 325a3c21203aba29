"""``cnnlab finetune --model resnet18 --weights DEFAULT``: torchvision's weights by name.

The weights file is a random torchvision ResNet-18's state dict saved under the
name torchvision gives ResNet18_Weights.IMAGENET1K_V1, in a temporary
TORCH_HOME: nothing is downloaded.  The oracle is torchvision's own network.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
import yaml
from torch import nn

from cnnlab import runs
from cnnlab.attack.poison import penultimate_features
from cnnlab.models.pretrained import WEIGHTS_ENV
from cnnlab.train.transfer import load_pretrained
from tests.cli.helpers import run_cli

FILE = "resnet18-f37072fd.pth"  # ResNet18_Weights.IMAGENET1K_V1 (DEFAULT)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGENET_STEM = {"stem": "imagenet"}  # torchvision's layout at any input size


@pytest.fixture
def reference(tmp_path, monkeypatch) -> nn.Module:
    """A torchvision ResNet-18 with random weights and batch-norm statistics, saved in
    an otherwise empty torch hub cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(model.state_dict(), folder / FILE)
    return model


def finetune(capsys, *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, "finetune", *argv, "--epochs", "1", "--batch-size", "128", "--quiet")


def test_frozen_features_are_torchvisions_with_the_first_layer_summed_to_one_channel(
    capsys, reference, tmp_path
):
    out = tmp_path / "ft"
    code, text, err = finetune(
        capsys, "--model", "resnet18", "--model-arg", "stem=imagenet", "--weights", "DEFAULT",
        "--freeze", "features", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert f"run directory: {out}" in text
    assert yaml.safe_load((out / "config.yaml").read_text())["pretrained"] == "DEFAULT"
    # torchvision's trunk on one-channel input: the RGB filters of conv1 summed
    # (what load_torchvision_weights does for in_chans=1), the 1000-class head removed.
    trunk = torchvision.models.resnet18().eval()
    trunk.load_state_dict(reference.state_dict())
    summed = reference.conv1.weight.detach().sum(1, keepdim=True)
    trunk.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    trunk.conv1.weight.data.copy_(summed)
    trunk.fc = nn.Identity()
    net = runs.load_run(out).model.net.eval()
    x = torch.rand(4, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(penultimate_features(net, x), trunk(x), rtol=1e-5, atol=1e-5)


def test_named_weights_bring_imagenet_normalization_when_features_stay_frozen(reference):
    model = runs.build_classifier(
        "resnet18",
        IMAGENET_STEM,
        ["a", "b"],
        (3, 32, 32),
        torch.full((3,), 0.3),
        torch.full((3,), 0.2),
    )
    load_pretrained(model, "IMAGENET1K_V1", keep_normalization=True, model_name="resnet18")
    assert model.normalize.mean.flatten().tolist() == pytest.approx(IMAGENET_MEAN)
    assert model.normalize.std.flatten().tolist() == pytest.approx(IMAGENET_STD)
    features = model.net.features
    torch.testing.assert_close(features.stem.conv.weight, reference.conv1.weight)
    torch.testing.assert_close(
        features.layer4[1].branch.conv1.conv.weight, reference.layer4[1].conv1.weight
    )
    refit = runs.build_classifier(
        "resnet18",
        IMAGENET_STEM,
        ["a", "b"],
        (3, 32, 32),
        torch.full((3,), 0.3),
        torch.full((3,), 0.2),
    )
    load_pretrained(refit, "DEFAULT", keep_normalization=False, model_name="resnet18")
    assert refit.normalize.mean.flatten().tolist() == pytest.approx([0.3] * 3)


def test_the_cifar_stem_of_small_images_is_pointed_out(capsys, reference):
    code, _, err = finetune(capsys, "--model", "resnet18", "--weights", "DEFAULT")
    assert code != 0 and "--model-arg stem=imagenet" in err


def test_a_missing_weights_file_is_named_before_the_data_loads(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    code, _, err = finetune(capsys, "--model", "resnet50", "--weights", "IMAGENET1K_V2")
    assert code != 0
    assert "resnet50-11ad3fa6.pth" in err and "hub/checkpoints" in err
    assert "loading the" not in err


def test_a_run_and_weights_together_or_neither_are_refused(capsys, digits_run):
    for argv in ((str(digits_run), "--weights", "DEFAULT"), ("--model", "resnet18")):
        code, _, err = finetune(capsys, *argv)
        assert code != 0 and "give one of the two" in err


def test_a_model_without_torchvision_weights_says_so(capsys, reference):
    code, _, err = finetune(capsys, "--model", "resnet20", "--weights", "DEFAULT")
    assert code != 0 and "no torchvision weights" in err
