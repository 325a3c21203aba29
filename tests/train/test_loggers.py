"""`cnnlab train --log tensorboard,csv`: event file and CSV read back; the progress lines."""

import csv
import json

import pytest
from tests.cli.helpers import run_cli

from cnnlab.errors import ConfigError
from cnnlab.train.loggers import build_loggers

EventAccumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard extra is not installed",
).EventAccumulator

EPOCHS = 2


def test_tensorboard_and_csv_logs_hold_the_history(capsys, tmp_path):
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys,
        "train",
        "--epochs",
        str(EPOCHS),
        "--out",
        str(run),
        "--log",
        "tensorboard,csv",
        "--log-histograms",
    )
    assert code == 0
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]

    events = EventAccumulator(str(run / "logs"), size_guidance={"scalars": 0}).Reload()
    tags = events.Tags()
    for key in ("train_loss", "val_loss", "val_acc", "lr"):
        values = [(e.step, e.value) for e in events.Scalars(f"epoch/{key}")]
        assert values == [(row["epoch"], pytest.approx(row[key])) for row in history], key
    steps = events.Scalars("step/loss")
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert len(steps) % EPOCHS == 0 and len(events.Scalars("step/lr")) == len(steps)
    # The epoch's training loss is the mean of its steps' losses (equal-size batches but the last).
    first_epoch = [e.value for e in steps[: len(steps) // EPOCHS]]
    assert sum(first_epoch) / len(first_epoch) == pytest.approx(history[0]["train_loss"], rel=0.05)
    assert "images/first_batch" in tags["images"]
    assert any(tag.startswith("weights/") for tag in tags["histograms"])

    with (run / "logs" / "history.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [float(r["val_acc"]) for r in rows] == [pytest.approx(r["val_acc"]) for r in history]

    assert f"run: 1/{EPOCHS} epochs, about" in err
    assert "final evaluation on the test split" in err
    assert "loading the digits data set" in err


def test_unknown_logger_and_lonely_histograms_are_refused():
    with pytest.raises(ConfigError, match="tensorboard"):
        build_loggers(["wandb"])
    with pytest.raises(ConfigError, match="--log tensorboard"):
        build_loggers(["csv"], histograms=True)
