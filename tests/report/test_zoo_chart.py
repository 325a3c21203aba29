"""The zoo's accuracy-vs-operations chart (cnnlab.report.zoo_chart, cnnlab models --chart)."""

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.models.registry import model_info
from cnnlab.report.zoo_chart import plot_accuracy_vs_operations, zoo_points
from tests.cli.helpers import run_cli


def test_counted_figures_equal_torchvisions_and_published_ones_are_kept():
    resnet50, convnext = zoo_points(["resnet50", "convnext_xlarge"])
    reference = torchvision.models.resnet50()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        reference.eval()(torch.zeros(1, 3, 224, 224))
    assert resnet50.counted and resnet50.macs == counter.get_total_flops() / 2
    assert resnet50.params == sum(p.numel() for p in reference.parameters())
    assert resnet50.top1 == model_info("resnet50").reference.top1
    published = model_info("convnext_xlarge").reference
    assert not convnext.counted and (convnext.macs, convnext.params) == (
        published.macs,
        published.params,
    )


def test_only_imagenet_models_with_a_published_accuracy_are_drawn():
    assert zoo_points(["resnet20", "lenet5"]) == []  # CIFAR-10 and MNIST figures
    fig = plot_accuracy_vs_operations(zoo_points(["resnet50", "convnext_xlarge"]))
    assert len(fig.axes[0].collections) == 2


def test_models_chart_writes_the_figure(capsys, tmp_path, monkeypatch):
    import cnnlab.cli.inspect as inspect_cli

    # two models keep it fast; the whole zoo (74 models) takes ~16 s of CPU
    monkeypatch.setattr(inspect_cli, "zoo_points", lambda: zoo_points(["resnet50", "alexnet"]))
    path = tmp_path / "zoo.png"
    code, text, _ = run_cli(capsys, "models", "--chart", str(path))
    assert code == 0 and path.read_bytes().startswith(b"\x89PNG")
    assert "models with a published ImageNet top-1" in text
