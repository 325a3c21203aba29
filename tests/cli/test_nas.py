"""The ``cnnlab nas`` subcommand."""

import argparse
import json

import pytest

from cnnlab.cli import build_parser
from tests.conftest import shared_dataset


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["nas", *argv])


TINY = (
    "--subset",
    "30",
    "--filters",
    "4",
    "--blocks",
    "2",
    "--population",
    "2",
    "--sample-size",
    "2",
)


def test_nas_searches_the_digits_and_writes_every_candidate(tmp_path, capsys):
    args = parse(
        "--dataset",
        "digits",
        "--budget",
        "30",
        "--max-candidates",
        "3",
        "--out",
        str(tmp_path),
        *TINY,
    )
    assert args.func(args) == 0
    lines = (tmp_path / "candidates.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert json.loads((tmp_path / "search.json").read_text())["strategy"] == "evolution"
    assert "3 candidates; best" in capsys.readouterr().out


def test_nas_resumes_a_stopped_search(tmp_path, capsys):
    common = (
        "--dataset",
        "digits",
        "--strategy",
        "random",
        "--budget",
        "30",
        "--out",
        str(tmp_path),
        *TINY,
    )
    first = parse(*common, "--max-candidates", "1")
    first.func(first)
    before = (tmp_path / "candidates.jsonl").read_text()
    second = parse(*common, "--max-candidates", "2")
    second.func(second)
    after = (tmp_path / "candidates.jsonl").read_text()
    assert after.startswith(before) and len(after.splitlines()) == 2


def test_strategy_and_budget_are_checked_by_the_parser():
    with pytest.raises(SystemExit):
        parse("--strategy", "grid", "--budget", "1")
    with pytest.raises(SystemExit):
        parse("--dataset", "digits")


@pytest.mark.slow
def test_nas_on_a_fashion_mnist_subset(tmp_path):
    data_dir = shared_dataset("fashion-mnist")
    args = parse(
        "--dataset", "fashion-mnist", "--data-dir", str(data_dir), "--budget", "60",
        "--subset", "500", "--epochs", "1", "--out", str(tmp_path), "--population", "3",
        "--sample-size", "2",
    )  # fmt: skip
    assert args.func(args) == 0
    records = [
        json.loads(line) for line in (tmp_path / "candidates.jsonl").read_text().splitlines()
    ]
    assert records and all(0 <= r["accuracy"] <= 1 for r in records)
