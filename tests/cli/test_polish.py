"""What users hit at once: --version, help on every argument, did-you-mean, quiet pipes,
predict --json, the AutoAttack note."""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import EXIT_BROKEN_PIPE, build_parser
from cnnlab.errors import UnknownNameError
from cnnlab.version import __version__
from tests.cli.helpers import run_cli


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"cnnlab {__version__}"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_argument_of_every_subcommand_has_help(command):
    parser = _subcommands()[command]
    undocumented = [
        action.option_strings or action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert not undocumented, f"cnnlab {command}: no help for {undocumented}"


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["explain", "nowhere", "--method", "gradcam"], "Did you mean 'grad-cam'"),
        (["attack", "nowhere", "--method", "autoatack"], "Did you mean 'autoattack'"),
        (["train", "--dataset", "fashion_mnist"], "Did you mean 'fashion-mnist'"),
        (["summary", "ResNet18"], "Did you mean 'resnet18'"),
    ],
)
def test_a_near_miss_name_gets_a_suggestion(capsys, argv, suggestion):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and suggestion in err and "Traceback" not in err


def test_suggestions_are_left_out_when_nothing_is_close():
    message = str(UnknownNameError("model", "transformer", ["lenet5", "resnet18"]))
    assert "Did you mean" not in message and "Valid model names are: lenet5, resnet18" in message


def test_a_reader_that_stops_early_gets_no_traceback():
    process = subprocess.Popen(
        [sys.executable, "-m", "cnnlab", "models"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # `| head` that has read enough
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_predict_json_agrees_with_the_text_output(capsys, digits_run, tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 20), dtype=np.uint8)
    image = tmp_path / "digit.png"
    Image.fromarray(pixels, "L").save(image)
    code, text, _ = run_cli(capsys, "predict", str(digits_run), str(image), "--top-k", "3")
    assert code == 0
    code, out, _ = run_cli(capsys, "predict", str(digits_run), str(image), "--top-k", "3", "--json")
    assert code == 0
    (result,) = json.loads(out)
    assert result["image"] == str(image) and len(result["top"]) == 3
    shown = ", ".join(f"{c['class']} {c['probability']:.3f}" for c in result["top"])
    assert text.strip() == f"{image}: {shown}"
    probabilities = [c["probability"] for c in result["top"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6


def test_autoattack_points_to_the_reference_package(capsys):
    _, _, err = run_cli(capsys, "attack", "nowhere", "--method", "autoattack")
    assert "`autoattack` package" in err
