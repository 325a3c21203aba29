"""`cnnlab train`, `finetune`, `distill` and `lr-find`, end to end, as a user types them."""

import dataclasses
import json
import signal
import subprocess
import sys
import time

import pytest
import yaml

from cnnlab.cli import main
from cnnlab.train.config import TrainConfig
from tests.cli.helpers import run_cli


def _help(capsys, command: str) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping


@pytest.mark.parametrize("command", ["train", "finetune", "distill", "lr-find"])
def test_help_shows_the_training_defaults_of_train_config(capsys, command):
    help_text = _help(capsys, command)
    config = TrainConfig()
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    names = ["batch_size", "label_smoothing"]
    if command != "lr-find":
        names += ["epochs", "lr", "warmup_epochs"]
    for name in names:
        flag = f"--{name.replace('_', '-')} {name.upper()}"
        described = f"{flag} {fields[name].metadata['help']}"
        assert f"{described} (default: {getattr(config, name)})" in help_text
    augment = ",".join(config.augment) or "none"
    assert f"('' for none) (default: {augment})" in help_text
    assert "default: False" not in help_text  # switches are off unless given


def test_lr_find_help_lists_only_the_flags_the_range_test_uses(capsys):
    help_text = _help(capsys, "lr-find")
    for flag in ("--start-lr", "--end-lr", "--steps", "--model", "--optimizer", "--mixup"):
        assert flag in help_text
    for flag in ("--epochs", "--lr ", "--scheduler", "--warmup-epochs", "--ema", "--monitor"):
        assert flag not in help_text


def test_default_train_reaches_97_percent_on_digits_and_writes_a_complete_run(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", "--out", str(out_dir), "--quiet")
    assert code == 0
    assert f"run directory: {out_dir}" in out and "report.html" in out
    for name in (
        "config.yaml",
        "model.safetensors",
        "last.safetensors",
        "meta.json",
        "history.jsonl",
        "metrics.json",
        "report.html",
        "figures/learning_curves.png",
        "figures/confusion_matrix.png",
    ):
        assert (out_dir / name).is_file(), name
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.97
    assert metrics["test"]["dataset"] == "digits" and metrics["test"]["num_images"] == 359


def test_ctrl_c_saves_the_run_and_prints_the_resume_command(tmp_path):
    out_dir = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cnnlab",
            "train",
            "--epochs",
            "200",
            "--out",
            str(out_dir),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background jobs inherit SIGINT ignored, and Python then installs no
        # KeyboardInterrupt handler: give the child the default disposition, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not (out_dir / "history.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert f"cnnlab train --resume {out_dir}" in err
    code = main(["train", "--resume", str(out_dir), "--epochs", "2", "--quiet"])
    assert code in (0, 2)


def test_train_with_mixup_and_cutmix_records_their_options(capsys, tmp_path):
    run = tmp_path / "mix"
    code, _, _ = run_cli(
        capsys,
        "train",
        "--epochs",
        "1",
        "--mixup",
        "0.2",
        "--cutmix",
        "1.0",
        "--out",
        str(run),
        "--quiet",
    )
    assert code == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["mixup"] == 0.2 and config["cutmix"] == 1.0


def test_finetune_transfers_a_run_to_other_classes(capsys, digits_run, tmp_path):
    out = tmp_path / "ft"
    code, text, _ = run_cli(
        capsys,
        "finetune",
        str(digits_run),
        "--classes",
        "0,1,2",
        "--freeze",
        "features",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 0 and f"run directory: {out}" in text
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["pretrained"] == str(digits_run) and config["freeze"] == "features"
    assert json.loads((out / "meta.json").read_text())["classes"] == ["0", "1", "2"]


def test_distill_trains_a_student_from_a_teacher_run(capsys, digits_run, tmp_path):
    out = tmp_path / "student"
    code, _, _ = run_cli(
        capsys,
        "distill",
        str(digits_run),
        "--model",
        "simple_cnn",
        "--model-arg",
        "channels=[8, 16]",
        "--epochs",
        "1",
        "--temperature",
        "2",
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["teacher"] == str(digits_run) and config["distill_temperature"] == 2.0


def test_train_takes_adversarial_training_with_a_fractional_eps(capsys, tmp_path):
    out = tmp_path / "adv"
    code, _, _ = run_cli(
        capsys,
        "train",
        "--epochs",
        "1",
        "--adv-train",
        "fgsm-rs",
        "--eps",
        "8/255",
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["adv_train"] == "fgsm-rs" and config["adv_eps"] == pytest.approx(8 / 255)


def test_train_without_a_test_split_reports_on_validation(capsys, tmp_path):
    run = tmp_path / "no-test"
    code, out, _ = run_cli(
        capsys, "train", "--epochs", "1", "--test-fraction", "0", "--out", str(run), "--quiet"
    )
    assert code == 0 and "validation split" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"val"} and metrics["val"]["num_images"] == 179
    code, _, err = run_cli(capsys, "evaluate", str(run))
    assert code == 2 and "--split val" in err


def test_lr_find_prints_a_rate_and_writes_the_plot(tmp_path, capsys):
    out = tmp_path / "lr.png"
    code, text, _ = run_cli(
        capsys, "lr-find", "--dataset", "digits", "--steps", "30", "--quiet", "--out", str(out)
    )
    assert code == 0
    suggested = next(
        line for line in text.splitlines() if line.startswith("suggested learning rate:")
    )
    assert 1e-7 <= float(suggested.split()[3]) <= 10
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
