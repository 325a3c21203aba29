"""``cnnlab attack RUN --eps A,B,C`` (accuracy–ε curve) and ``--method universal``."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import torchattacks
from safetensors.torch import load_file

from cnnlab import runs
from tests.cli.helpers import run_cli


@pytest.fixture
def run_dir(digits_run, tmp_path):
    """A private copy of the shared digits run: the command writes into it."""
    return shutil.copytree(digits_run, tmp_path / "run")


def attacks(run_dir) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())["attacks"]


def test_the_accuracy_curve_of_fgsm_equals_torchattacks_at_every_eps(capsys, run_dir):
    code, out, err = run_cli(
        capsys, "attack", str(run_dir), "--method", "fgsm", "--eps", "0,0.05,0.1,0.2",
        "--limit", "60", "--device", "cpu",
    )  # fmt: skip
    assert code == 0, err
    entry = attacks(run_dir)["curve-fgsm-linf"]
    assert entry["eps"] == [0, 0.05, 0.1, 0.2] and entry["num_images"] == 60
    run = runs.load_run(run_dir)
    split = run.load_split("test", limit=60)
    images = split.images.images.float() / 255
    labels = split.class_map[split.images.labels]
    expected = []
    for eps in entry["eps"]:
        adversarial = torchattacks.FGSM(run.model, eps=eps)(images, labels) if eps else images
        with torch.no_grad():
            expected.append((run.model(adversarial).argmax(1) == labels).float().mean().item())
    assert entry["robust_accuracy"] == pytest.approx(expected, abs=1 / 60 + 1e-9)
    assert f"{'0.1':>10}  {entry['robust_accuracy'][2]:.4f}" in out
    assert (run_dir / "figures" / "attack_curve-fgsm-linf.png").is_file()
    assert "curve-fgsm-linf" in (run_dir / "report.html").read_text()


def test_a_universal_perturbation_is_saved_inside_its_ball_with_its_fooling_rate(capsys, run_dir):
    code, out, err = run_cli(
        capsys, "attack", str(run_dir), "--method", "universal", "--eps", "0.15", "--steps",
        "2", "--fit-images", "40", "--limit", "80", "--device", "cpu",
    )  # fmt: skip
    assert code == 0, err
    entry = attacks(run_dir)["universal-linf-eps0.15"]
    v = load_file(run_dir / entry["perturbation_file"])["perturbation"]
    assert v.shape == (1, 32, 32) and v.abs().max() <= 0.15 + 1e-6
    run = runs.load_run(run_dir)
    split = run.load_split("test", limit=80)
    images = split.images.images.float() / 255
    with torch.no_grad():
        clean = run.model(images).argmax(1)
        fooled = run.model((images + v).clamp(0, 1)).argmax(1)
    assert entry["fooling_rate"] == pytest.approx((clean != fooled).float().mean().item())
    labels = split.class_map[split.images.labels]
    assert entry["robust_accuracy"] == pytest.approx((fooled == labels).float().mean().item())
    assert entry["num_fit_images"] == 40 and entry["passes"] <= 2
    assert f"fooling rate:      {entry['fooling_rate']:.4f} on 80 test images" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--eps", "0.1,0.05"), "increasing radii"),
        (("--eps", "0,0.1", "--targeted", "3"), "drop --targeted"),
        (("--method", "universal"), "needs one radius"),
        (("--method", "universal", "--eps", "0.1", "--norm", "l1"), "l1"),
        (("--eps", "0,0.1", "--method", "deepfool"), "takes no --eps"),
    ],
)
def test_curve_and_universal_options_are_checked(capsys, run_dir, argv, message):
    code, _, err = run_cli(capsys, "attack", str(run_dir), *argv, "--limit", "10")
    assert code != 0 and message in err
