"""Hostile values on the command line and in config files: a clear error, never a traceback.

Each case exits with status 2 and a message that names the argument or key,
before anything is trained or written.
"""

import json
import shutil

import pytest
from PIL import Image
from safetensors.torch import load_file, save, save_file

from cnnlab.cli import main
from cnnlab.fileio import sha256_file
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
    (["--nesterov", "--optimizer", "adam"], "nesterov"),
    (["--nesterov", "--optimizer", "sgd", "--momentum", "0"], "nesterov"),
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


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--budget", "nan"], "budget"),
        (["--budget", "inf"], "budget"),
        (["--budget", "-1"], "budget"),
    ],
)
def test_a_nas_budget_that_never_runs_out_is_refused(capsys, tmp_path, flags, named):
    _fails_cleanly(capsys, ["nas", *flags, "--out", str(tmp_path / "nas")], named)


def test_nas_out_naming_a_file_fails_before_the_search(capsys, tmp_path):
    (tmp_path / "results").write_text("the user's file")
    _fails_cleanly(capsys, ["nas", "--budget", "60", "--out", str(tmp_path / "results")], "--out")
    assert (tmp_path / "results").read_text() == "the user's file"


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--count", "100000", "--rows", "0"], "--count"), (["--rows", "-1"], "--rows")],
)
def test_an_augment_grid_too_large_to_look_at_is_refused(capsys, tmp_path, flags, named):
    _fails_cleanly(capsys, ["augment", *flags, "--out", str(tmp_path / "a.png")], named)
    assert not (tmp_path / "a.png").exists()


def test_a_config_of_nested_yaml_aliases_is_refused(capsys, tmp_path):
    """A 400-byte 'billion laughs': 10**7 strings once the aliases are expanded."""
    lines = ["classes:", '  - &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    (tmp_path / "config.yaml").write_text("\n".join(lines) + "\n")
    argv = [*TRAIN, "--out", str(tmp_path / "run"), "--config", str(tmp_path / "config.yaml")]
    _fails_cleanly(capsys, argv, "aliases")


META_CASES = [
    ("a list", lambda meta: [1, 2]),
    ("classes: 5", lambda meta: {**meta, "classes": 5}),
    ("2-element input_shape", lambda meta: {**meta, "input_shape": [1, 32]}),
    ("negative input_shape", lambda meta: {**meta, "input_shape": [1, -32, 32]}),
    ("model_kwargs: [1]", lambda meta: {**meta, "model_kwargs": [1]}),
    ("no weights_sha256", lambda meta: {k: v for k, v in meta.items() if k != "weights_sha256"}),
]


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize(("case", "tamper"), META_CASES, ids=[c for c, _ in META_CASES])
def test_a_tampered_meta_json_is_a_clear_error(capsys, lenet_run, tmp_path, command, case, tamper):
    run = _tampered_copy(lenet_run, tmp_path, tamper)
    Image.new("L", (32, 32)).save(tmp_path / "a.png")
    argv = [command, str(run)] + ([str(tmp_path / "a.png")] if command == "predict" else [])
    _fails_cleanly(capsys, argv, "meta.json")


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_run_of_an_unknown_task_is_a_clear_error(capsys, lenet_run, tmp_path, command):
    run = _tampered_copy(lenet_run, tmp_path, lambda meta: {**meta, "task": "bogus"})
    Image.new("L", (32, 32)).save(tmp_path / "a.png")
    argv = [command, str(run)] + ([str(tmp_path / "a.png")] if command == "predict" else [])
    _fails_cleanly(capsys, argv, "task")


def _tampered_copy(run_dir, tmp_path, tamper):
    run = shutil.copytree(run_dir, tmp_path / "run")
    meta = json.loads((run / "meta.json").read_text())
    (run / "meta.json").write_text(json.dumps(tamper(meta)))
    return run


def test_resuming_from_a_checkpoint_with_a_deeply_nested_skeleton_is_a_clear_error(
    capsys, lenet_run, tmp_path
):
    run = shutil.copytree(lenet_run, tmp_path / "run")
    deep = "[" * 100_000 + "]" * 100_000  # json.loads would hit the recursion limit
    (run / "last.safetensors").write_bytes(save({}, metadata={"cnnlab": deep}))
    _fails_cleanly(capsys, ["train", "--resume", str(run)], "last.safetensors")


def test_predicting_with_nan_weights_is_a_clear_error(capsys, lenet_run, tmp_path):
    """It printed 'nan' probabilities with exit status 0."""
    run = shutil.copytree(lenet_run, tmp_path / "run")
    weights = load_file(run / "model.safetensors")
    next(w for w in weights.values() if w.is_floating_point()).fill_(float("nan"))
    save_file(weights, run / "model.safetensors")
    meta = json.loads((run / "meta.json").read_text())
    meta["weights_sha256"] = sha256_file(run / "model.safetensors")
    (run / "meta.json").write_text(json.dumps(meta))
    Image.new("L", (32, 32)).save(tmp_path / "a.png")
    _fails_cleanly(capsys, ["predict", str(run), str(tmp_path / "a.png")], "NaN")
