"""Atomic writes (cnnlab.fileio)."""

import json
import os
import stat

import pytest

from cnnlab.errors import DataError
from cnnlab.fileio import atomic_path, update_json, write_text


def test_written_files_get_the_mode_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    write_text(tmp_path / "atomic.txt", "x")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "atomic.txt") == mode(plain)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "data.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_update_json_sets_a_nested_key_and_keeps_the_rest(tmp_path):
    path = tmp_path / "metrics.json"
    update_json(path, ("attacks", "pgd"), {"robust_accuracy": 0.5})
    update_json(path, ("test",), {"accuracy": 0.9})
    update_json(path, ("attacks", "fgsm"), {"robust_accuracy": 0.6})
    assert json.loads(path.read_text()) == {
        "attacks": {"pgd": {"robust_accuracy": 0.5}, "fgsm": {"robust_accuracy": 0.6}},
        "test": {"accuracy": 0.9},
    }


def test_update_json_refuses_a_corrupt_file_and_leaves_it(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        update_json(path, ("test",), {})
    assert path.read_text() == "{not json"


def test_a_binary_file_is_not_read_as_yaml(tmp_path):
    from cnnlab.errors import ConfigError
    from cnnlab.fileio import read_yaml_mapping

    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml_mapping(path, ConfigError, "Config file")
