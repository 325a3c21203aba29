"""The command line, end to end, as a user types it."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from PIL import Image

from cnnlab.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_and_datasets_list_one_line_each(capsys):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0 and any(line.startswith("lenet5 ") for line in out.splitlines())
    code, out, _ = run_cli(capsys, "datasets")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0
    assert {
        "digits",
        "mnist",
        "fashion-mnist",
        "kmnist",
        "cifar10",
        "cifar100",
        "imagefolder",
    } <= set(names)


@pytest.mark.parametrize("command", ["train", "finetune", "distill"])
def test_help_shows_the_training_defaults_of_train_config(capsys, command):
    from cnnlab.train.config import TrainConfig

    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    config = TrainConfig()
    for flag, value in [
        ("--epochs EPOCHS", config.epochs),
        ("--batch-size BATCH_SIZE", config.batch_size),
        ("--lr LR (peak) learning rate", config.lr),
        ("--warmup-epochs WARMUP_EPOCHS", config.warmup_epochs),
        ("--label-smoothing LABEL_SMOOTHING", config.label_smoothing),
    ]:
        assert f"{flag} default: {value}" in help_text or f"{flag} (default: {value})" in help_text
    augment = ",".join(config.augment) or "none"
    assert f"('' for none) (default: {augment})" in help_text
    assert "default: False" not in help_text  # switches are off unless given


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


def test_evaluate_prints_and_writes_the_metrics(capsys, digits_run):
    code, out, _ = run_cli(capsys, "evaluate", str(digits_run), "--split", "val")
    assert code == 0 and "macro" in out and "weighted" in out
    metrics = json.loads((digits_run / "metrics.json").read_text())
    assert metrics["val"]["split"] == "val" and "test" in metrics


def test_evaluate_on_a_data_set_with_other_classes_is_refused(capsys, digits_run, tmp_path):
    from tests.data_helpers import write_idx_dataset

    write_idx_dataset(tmp_path / "fmnist", num_images=20)
    code, _, err = run_cli(
        capsys,
        "evaluate",
        str(digits_run),
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(tmp_path / "fmnist"),
    )
    assert code == 2 and "not trained on" in err and "Traceback" not in err


def test_evaluate_on_another_data_set_maps_classes_by_name(capsys, digits_run, tmp_path):
    from tests.data_helpers import write_idx_dataset

    write_idx_dataset(tmp_path / "mnist", num_images=40)
    code, _, _ = run_cli(
        capsys,
        "evaluate",
        str(digits_run),
        "--dataset",
        "mnist",
        "--data-dir",
        str(tmp_path / "mnist"),
    )
    assert code == 0
    metrics = json.loads((digits_run / "metrics.json").read_text())
    assert metrics["mnist/test"]["num_images"] == 40


def test_predict_takes_images_of_any_size_and_mode(capsys, digits_run, tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for mode, size in (("RGB", (50, 37)), ("L", (8, 8)), ("RGBA", (100, 100))):
        path = tmp_path / f"img_{mode}.png"
        channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
        Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(path)
        paths.append(str(path))
    jpeg = tmp_path / "img.jpg"
    Image.open(paths[0]).save(jpeg)
    code, out, _ = run_cli(capsys, "predict", str(digits_run), *paths, str(jpeg), "--top-k", "3")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 4
    probs = [float(tok) for tok in lines[0].split(": ", 1)[1].replace(",", "").split()[1::2]]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6


def test_predict_names_an_unreadable_image(capsys, digits_run, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    code, _, err = run_cli(capsys, "predict", str(digits_run), str(bad))
    assert code == 2 and "notes.png" in err


@pytest.mark.parametrize("shape", ["1x32x32", "1x28x28"])
def test_summary_prints_the_lenet5_table_of_the_lecture(capsys, shape):
    code, out, _ = run_cli(capsys, "summary", "lenet5", "--input", shape)
    assert code == 0
    for number in ("156", "1,516", "48,120", "10,164"):
        assert number in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--model", "lenet6"], "Valid model names"),
        (["train", "--dataset", "imagenet"], "Valid data set names"),
        (["train", "--epochs", "0"], "epochs must be > 0"),
        (["train", "--lr", "-1"], "lr must be > 0"),
        (["evaluate", "nowhere"], "does not exist"),
        (["summary", "lenet5", "--input", "32x32"], "CxHxW"),
    ],
)
def test_bad_input_is_one_paragraph_without_traceback(capsys, tmp_path, argv, message):
    code, _, err = run_cli(
        capsys, *argv, *(["--out", str(tmp_path / "r")] if argv[0] == "train" else [])
    )
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_tampered_checkpoint_is_refused(capsys, digits_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    code, _, err = run_cli(capsys, "evaluate", str(copy))
    assert code == 2 and "sha256" in err


def test_python_dash_m_is_the_same_program():
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab", "models"], capture_output=True, text=True, check=True
    )
    assert "lenet5" in result.stdout


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


def test_augment_shows_originals_and_augmented_rows(capsys, tmp_path):
    out = tmp_path / "grid.png"
    code, text, _ = run_cli(
        capsys, "augment", "--augment", "flip,rotate:20", "--mixup", "0.4", "--out", str(out)
    )
    assert code == 0 and "flip, rotate:20" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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


def test_evaluate_several_runs_prints_the_ensemble(capsys, digits_run):
    code, text, _ = run_cli(capsys, "evaluate", str(digits_run), str(digits_run), "--tta", "flip")
    assert code == 0
    assert text.count("member ") == 2 and "ensemble of 2 runs" in text


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
