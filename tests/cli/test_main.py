"""The `cnnlab` program: one-line errors without a traceback, `python -m cnnlab`."""

import subprocess
import sys

import pytest

from tests.cli.helpers import run_cli


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


def test_python_dash_m_is_the_same_program():
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab", "models"], capture_output=True, text=True, check=True
    )
    assert "lenet5" in result.stdout
