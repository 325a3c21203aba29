"""Hostile values on the command line and in config files: a clear error, never a traceback.

Each case exits with status 2 and a message that names the argument or key,
before anything is trained or written.
"""

import pytest

from cnnlab.cli import main
from tests.cli.helpers import run_cli

TRAIN = ["train", "--epochs", "1", "--quiet"]

FLAG_CASES = [
    (["--seed", "-1"], "seed"),
    (["--seed", str(2**70)], "seed"),
    (["--batch-size", "9223372036854775808"], "batch_size"),
    (["--warmup-epochs", "inf"], "--warmup-epochs"),
    (["--warmup-epochs", "nan"], "--warmup-epochs"),
    (["--momentum", "-1"], "momentum"),
    (["--lr", "1e999"], "--lr"),
    (["--augment", "crop:100000"], "crop"),
    (["--model-arg", "x=["], "--model-arg"),
    (["--model-arg", "num_classes=3"], "num_classes"),
    (["--model-arg", "in_chans=1"], "in_chans"),
    (["--device", "cuda:99"], "device"),
    (["--device", "bogus"], "device"),
]

CONFIG_CASES = [
    ("batch_size: 2.5", "batch_size"),
    ("seed: x", "seed"),
    ("model_kwargs: [1]", "model_kwargs"),
    ("device: [1]", "device"),
    ("epochs: 1.5", "epochs"),
    ("epochs: true", "epochs"),
    ("lr: .nan", "lr"),
    ("warmup_epochs: .inf", "warmup_epochs"),
    ("augment: {a: 1}", "augment"),
    ("nesterov: 3", "nesterov"),
    ("classes: [[1]]", "classes"),
    ("adv_eps: 8/0", "adv_eps"),
    ("bogus_key: 1", "bogus_key"),
]


def _fails_cleanly(capsys, argv, named):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err
    assert named in err


@pytest.mark.parametrize(("flags", "named"), FLAG_CASES)
def test_bad_training_flag_is_a_clear_error(capsys, tmp_path, flags, named):
    _fails_cleanly(capsys, [*TRAIN, "--out", str(tmp_path / "run"), *flags], named)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("line", "named"), CONFIG_CASES)
def test_bad_config_value_is_a_clear_error_naming_the_key(capsys, tmp_path, line, named):
    (tmp_path / "config.yaml").write_text(line + "\n")
    argv = [*TRAIN, "--out", str(tmp_path / "run"), "--config", str(tmp_path / "config.yaml")]
    _fails_cleanly(capsys, argv, named)
    assert not (tmp_path / "run").exists()


def test_cuda_without_a_gpu_is_a_clear_error(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    _fails_cleanly(capsys, [*TRAIN, "--out", str(tmp_path / "run"), "--device", "cuda"], "cuda")


@pytest.mark.parametrize("top_k", ["-1", "0", "x"])
def test_predict_top_k_must_be_at_least_one(capsys, lenet_run, tmp_path, top_k):
    _fails_cleanly(capsys, ["predict", str(lenet_run), "a.png", "--top-k", top_k], "--top-k")


@pytest.mark.parametrize("count", ["0", "-3"])
def test_augment_count_must_be_at_least_one(capsys, tmp_path, count):
    argv = ["augment", "--count", count, "--out", str(tmp_path / "a.png")]
    _fails_cleanly(capsys, argv, "--count")


def test_summary_of_an_input_too_small_for_the_model_is_a_clear_error(capsys):
    _fails_cleanly(capsys, ["summary", "lenet5", "--input", "3x1x1"], "input")


def test_a_resumed_gpu_run_can_move_to_the_cpu(capsys, tmp_path):
    """--device given to --resume replaces the run's device before it is validated."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("device: cuda:99\n")
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path / "run"), "--device", "cpu")
    assert code == 2 and "last.safetensors" in err and "Traceback" not in err
