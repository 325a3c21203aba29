"""``cnnlab report RUN1 RUN2``: one page comparing runs."""

from __future__ import annotations

import shutil

import pytest
import yaml

from cnnlab import runs
from cnnlab.cli import main
from cnnlab.errors import CheckpointError
from cnnlab.report.compare import build_comparison


@pytest.fixture
def two_runs(digits_run, tmp_path):
    """The session's digits run and a copy that differs in its learning rate and history."""
    first, second = tmp_path / "adam", tmp_path / "sgd"
    shutil.copytree(digits_run, first)
    shutil.copytree(digits_run, second)
    config = yaml.safe_load((second / runs.CONFIG).read_text())
    config.update(optimizer="sgd", lr=0.1)
    (second / runs.CONFIG).write_text(yaml.safe_dump(config))
    history = [dict(row, val_acc=row["val_acc"] / 2) for row in runs.read_history(second)]
    runs.write_history(second, history)
    return first, second


def test_the_page_shows_each_run_its_accuracy_and_only_the_settings_that_differ(two_runs, tmp_path):
    page = build_comparison(two_runs, tmp_path / "compare.html").read_text()
    assert "<h2>Learning curves</h2>" in page and page.count("<img ") == 1
    accuracy = runs.read_metrics(two_runs[0])["test"]["accuracy"]
    assert page.count(f"{accuracy:.4f}") == 2
    differing = page.split("Settings that differ")[1]
    assert "<td>optimizer</td>" in differing and "<td>lr</td>" in differing
    assert "<td>model</td>" not in differing  # the same in both runs
    assert differing.count("class='diff'") == 4
    assert "&quot;sgd&quot;" in differing  # values as JSON, escaped


def test_cnnlab_report_with_several_runs_writes_the_comparison(two_runs, tmp_path, capsys):
    out = tmp_path / "both.html"
    assert main(["report", *map(str, two_runs), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert "Comparison of 2 runs" in out.read_text()


def test_a_folder_that_is_not_a_run_is_refused(digits_run, tmp_path):
    with pytest.raises(CheckpointError, match="not a run directory"):
        build_comparison([digits_run, tmp_path], tmp_path / "compare.html")
