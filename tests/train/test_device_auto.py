"""--device auto (the default): CUDA, then MPS, then the CPU; config.yaml records the choice."""

import pytest
import torch
import yaml

from cnnlab.train.config import TrainConfig, auto_device


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert auto_device() == expected


def test_the_default_config_records_the_device_it_chose(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    config = TrainConfig()
    assert config.device == "cpu" and TrainConfig(device="auto").device == "cpu"
    assert yaml.safe_load(config.to_yaml())["device"] == "cpu"
    assert "device" not in config.changes()
