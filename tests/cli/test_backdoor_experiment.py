"""``cnnlab experiment backdoor``: BadNets on the embedded digits, and its two detectors."""

from __future__ import annotations

import json

import torch

from cnnlab import runs
from cnnlab.attack.poison import Trigger, poison_dataset
from cnnlab.data import load_data
from tests.cli.helpers import run_cli


def test_backdoor_experiment_plants_a_backdoor_that_activation_clustering_finds(capsys, tmp_path):
    out = tmp_path / "backdoor"
    code, text, err = run_cli(
        capsys, "experiment", "backdoor", "--epochs", "6", "--poison-rate", "0.05",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert f"report: {out / 'report.html'}" in text
    metrics = json.loads((out / "metrics.json").read_text())["backdoor"]
    assert metrics["dataset"] == "digits" and metrics["target"] == "0"
    clean, poisoned = metrics["models"]["clean"], metrics["models"]["poisoned"]
    assert poisoned["attack_success_rate"] >= 0.9 > 0.1 >= clean["attack_success_rate"]
    assert poisoned["clean_accuracy"] >= clean["clean_accuracy"] - 0.03  # stealthy
    # the planted images, drawn again from the same seed, against what was flagged
    data = load_data("digits", seed=0)
    trigger = Trigger("patch", size=4)  # max(3, 32 // 7)
    _, chosen = poison_dataset(data.train, trigger, 0, 0.05, seed=0)
    assert metrics["poisoned_images"] == len(chosen) == round(0.05 * len(data.train))
    found = metrics["detection"]["activation_clustering"]
    # Issue 32's recall >= 0.8 is checked at full length by the slow activation-clustering test;
    # this 6-epoch run's recall depends on the thread count (0.75 on 2 threads, >= 0.8 on 1),
    # so here the detector must only be far better than chance: 5 % of the images are poisoned.
    assert found["recall"] >= 0.6
    assert found["precision"] >= 4 * 0.05
    assert found["poisoned_flagged"] == round(found["recall"] * len(chosen))
    assert found["precision"] == found["poisoned_flagged"] / found["flagged"]
    # the poisoned run's model answers the target class on triggered test images
    model = runs.load_run(out / "poisoned").model
    others = data.test.labels != 0
    triggered = trigger.apply(data.test.images[others].float() / 255)
    with torch.no_grad():
        rate = (model(triggered).argmax(1) == 0).float().mean().item()
    assert rate == poisoned["attack_success_rate"]
    report = (out / "report.html").read_text()
    assert "attack success rate" in report and "activation clustering" in report
