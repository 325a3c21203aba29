"""The best weights and meta.json stay a consistent pair across a kill at any write."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from cnnlab import runs
from cnnlab.runs import weights


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the raising point runs."""


def _model(value: float) -> nn.Module:
    model = nn.Linear(2, 1)
    nn.init.constant_(model.weight, value)
    return model


def _meta(epoch: int) -> dict:
    """What the trainer records of the weights (save_best adds their sha256)."""
    return {"model": "linear", "classes": ["y"], "input_shape": [1, 1, 2], "epoch": epoch}


def _kill_at(monkeypatch, step):
    def killed(*args, **kwargs):
        raise Killed

    if step == "rename":
        monkeypatch.setattr(weights, "os", SimpleNamespace(replace=killed))
    else:
        monkeypatch.setattr(weights, step, killed)


def test_a_save_is_read_back_with_its_meta(tmp_path):
    runs.save_best(tmp_path, _model(1.0), _meta(1))
    meta = runs.read_meta(tmp_path)
    assert meta["epoch"] == 1 and not (tmp_path / runs.layout.BEST_PENDING).exists()
    assert runs.load_best(tmp_path, meta)["weight"].eq(1.0).all()


@pytest.mark.parametrize(("kill_at", "epoch"), [("write_meta", 1), ("rename", 2)])
def test_a_kill_inside_a_save_leaves_weights_that_match_meta(tmp_path, monkeypatch, kill_at, epoch):
    runs.save_best(tmp_path, _model(1.0), _meta(1))
    with monkeypatch.context() as patch:
        _kill_at(patch, kill_at)  # before meta.json (old pair) or before the rename (new pair)
        with pytest.raises(Killed):
            runs.save_best(tmp_path, _model(2.0), _meta(2))
    meta = runs.read_meta(tmp_path)
    assert meta["epoch"] == epoch
    assert runs.load_best(tmp_path, meta)["weight"].eq(float(epoch)).all()
    runs.settle_best(tmp_path)  # what --resume does
    assert not (tmp_path / runs.layout.BEST_PENDING).exists()
    assert (
        runs.load_weights(tmp_path / runs.BEST, meta["weights_sha256"])["weight"]
        .eq(float(epoch))
        .all()
    )


def test_weights_changed_after_training_are_still_detected(tmp_path):
    runs.save_best(tmp_path, _model(1.0), _meta(1))
    torch.manual_seed(0)
    runs.checkpoint.save_weights(tmp_path / runs.BEST, _model(3.0))
    with pytest.raises(runs.checkpoint.CheckpointError, match="modified or truncated"):
        runs.load_best(tmp_path, runs.read_meta(tmp_path))
