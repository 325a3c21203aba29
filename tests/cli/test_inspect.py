"""`cnnlab models`, `datasets`, `summary` and `augment`."""

import pytest

from tests.cli.helpers import run_cli


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


def test_models_filter_keeps_the_names_matching_the_pattern(capsys):
    code, out, _ = run_cli(capsys, "models", "--filter", "resnet*")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and "resnet18" in names and "resnet20" in names
    assert all(name.startswith("resnet") for name in names)
    code, _, err = run_cli(capsys, "models", "--filter", "nothing*")
    assert code != 0 and "No model name matches 'nothing*'" in err


@pytest.mark.parametrize("shape", ["1x32x32", "1x28x28"])
def test_summary_prints_the_lenet5_table_of_the_lecture(capsys, shape):
    code, out, _ = run_cli(capsys, "summary", "lenet5", "--input", shape)
    assert code == 0
    for number in ("156", "1,516", "48,120", "10,164"):
        assert number in out


def test_augment_shows_originals_and_augmented_rows(capsys, tmp_path):
    out = tmp_path / "grid.png"
    code, text, _ = run_cli(
        capsys, "augment", "--augment", "flip,rotate:20", "--mixup", "0.4", "--out", str(out)
    )
    assert code == 0 and "flip, rotate:20" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
