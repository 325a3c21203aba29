"""``cnnlab diagnose``: the layer table, the tanh experiment and what it needs."""

import pytest

from cnnlab.cli import build_parser
from cnnlab.errors import ConfigError


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(["diagnose", *argv])
    return args.func(args)


def test_cli_prints_a_layer_table_and_writes_the_figure(tmp_path, capsys):
    out = tmp_path / "diag.png"
    argv = ["simple_cnn", "--input", "1x16x16", "--batch-size", "4", "--init", "kaiming_normal"]
    assert _run([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "features.conv1.act" in printed and "grad std" in printed
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_cli_reproduces_the_tanh_experiment(tmp_path, capsys):
    out = tmp_path / "tanh.png"
    assert _run(["--experiment", "tanh-init", "--out", str(out)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    layer_rows = [row for row in rows if row and row[0].isdigit()]
    assert [int(row[0]) for row in layer_rows] == list(range(1, 11))
    assert float(layer_rows[-1][1]) < 1e-6 < 0.05 < float(layer_rows[-1][2])
    assert out.is_file()


def test_cli_needs_a_model_or_an_experiment():
    with pytest.raises(ConfigError, match="MODEL"):
        _run([])
