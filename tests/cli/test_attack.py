"""``cnnlab attack``: printed metrics, metrics.json, the figure, and helpful errors."""

import argparse
import json
import shutil

import pytest

from cnnlab.cli import build_parser
from cnnlab.errors import CnnlabError


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["attack", *argv])


@pytest.fixture
def run_dir(digits_run, tmp_path):
    """A private copy of the shared run: the command writes into it."""
    return shutil.copytree(digits_run, tmp_path / "run")


def read_metrics(run_dir) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_pgd_prints_and_records_its_metrics(run_dir, capsys):
    args = parse(str(run_dir), "--method", "pgd", "--eps", "8/255", "--steps", "5", "--limit", "20")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    key = "pgd-linf-eps8_255-steps5"
    entry = read_metrics(run_dir)["attacks"][key]
    assert entry["num_images"] == 20
    assert entry["method"] == "pgd" and entry["norm"] == "linf"
    assert entry["eps"] == pytest.approx(8 / 255) and entry["steps"] == 5
    assert entry["target"] is None and entry["split"] == "test"
    assert 0 <= entry["robust_accuracy"] <= entry["clean_accuracy"] <= 1
    assert f"attack:            {key}  (20 images" in out
    assert f"clean accuracy:    {entry['clean_accuracy']:.4f}" in out
    assert f"robust accuracy:   {entry['robust_accuracy']:.4f}" in out
    assert "success rate:" in out and "mean perturbation: L∞" in out
    figure = run_dir / "figures" / f"attack_{key}.png"
    assert figure.is_file() and figure.stat().st_size > 0
    assert f"figure: {figure}" in out


def test_second_attack_is_merged_into_metrics(run_dir, capsys):
    before = read_metrics(run_dir)
    for argv in (["--method", "fgsm", "--eps", "0.1"], ["--method", "deepfool", "--examples", "0"]):
        args = parse(str(run_dir), *argv, "--limit", "20")
        assert args.func(args) == 0
    metrics = read_metrics(run_dir)
    assert set(metrics["attacks"]) == {"fgsm-linf-eps0.1", "deepfool-l2"}
    assert {k: v for k, v in metrics.items() if k != "attacks"} == {
        k: v for k, v in before.items() if k != "attacks"
    }
    assert not (run_dir / "figures" / "attack_deepfool-l2.png").exists()
    assert "figure:" not in capsys.readouterr().out.split("attack:            deepfool")[1]


def test_targeted_attack_by_class_name(run_dir, capsys):
    args = parse(
        str(run_dir),
        "--method",
        "pgd",
        "--eps",
        "0.3",
        "--steps",
        "10",
        "--targeted",
        "3",
        "--limit",
        "20",
    )
    assert args.func(args) == 0
    entry = read_metrics(run_dir)["attacks"]["pgd-linf-eps0.3-steps10-target3"]
    assert entry["target"] == 3 and entry["success_rate"] >= 0.8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "pgd", "--eps", "8"], "8/255"),
        (["--method", "pgd", "--eps", "abc"], "fraction such as 0.1 or 8/255"),
        (["--method", "pgd"], "needs a radius"),
        (["--method", "deepfool", "--eps", "0.1"], "takes no --eps"),
        (["--method", "nosuchattack", "--eps", "0.1"], "pgd"),
        (["--method", "square", "--eps", "0.1", "--norm", "l2"], "linf"),
        (["--method", "fgsm", "--eps", "0.1", "--steps", "3"], "single step"),
        (["--method", "pgd", "--eps", "0.1", "--targeted", "cat"], "not a class"),
        (["--method", "pgd", "--eps", "0.1", "--limit", "0"], "limit"),
    ],
)
def test_bad_options_give_a_helpful_error(run_dir, argv, message):
    args = parse(str(run_dir), *argv)
    with pytest.raises(CnnlabError, match=message):
        args.func(args)
